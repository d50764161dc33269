// Parity with the real timm and torchvision (torch 2.x from PyPI, in .torch/venv): their
// random-init weights load strictly here and give their fp32 logits; weights saved here load
// strictly there with the same logits; the official noise sites match hooks on their modules.
//
// Runs wherever a Python with timm, torchvision and safetensors is found (NOISYNN_PARITY_PYTHON,
// else .torch/venv/bin/python, made by `NOISYNN_TORCH=pip bash scripts/setup.sh`). In the torch-2.x
// CI leg (NOISYNN_TORCH=pip) it is required, so a missing Python fails instead of skipping.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { createModel, ModelVariantName, Tensor } from '../lib';

const PY = process.env.NOISYNN_PARITY_PYTHON ?? path.join(__dirname, '..', '.torch', 'venv', 'bin', 'python');
const SCRIPT = path.join(__dirname, 'helpers', 'parity.py');

function pythonHasLibraries(): boolean {
  if (!fs.existsSync(PY)) return false;
  return spawnSync(PY, ['-c', 'import timm, torchvision, safetensors'], { stdio: 'ignore' }).status === 0;
}

const available = pythonHasLibraries();
if (!available && process.env.NOISYNN_TORCH === 'pip') {
  throw new Error(
    `parity tests: NOISYNN_TORCH=pip but ${PY} cannot import timm, torchvision and safetensors; run NOISYNN_TORCH=pip bash scripts/setup.sh`,
  );
}
const describeParity = available ? describe : describe.skip;

function python(...args: string[]): string {
  const r = spawnSync(PY, [SCRIPT, ...args], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`parity.py ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim();
}

/** One float32 tensor of a safetensors file, as a Tensor. */
function readTensor(file: string, name: string): Tensor {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const entry = header[name];
  if (!entry || entry.dtype !== 'F32') throw new Error(`${file} has no float32 tensor ${name}`);
  const bytes = buf.subarray(8 + n + entry.data_offsets[0], 8 + n + entry.data_offsets[1]);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return Tensor.fromTypedArray(data, entry.shape);
}

/** max |a - b| / max |b|: the relative distance of two logit tensors. */
function relativeDistance(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.toTypedArray() as Float32Array;
  const y = b.toTypedArray() as Float32Array;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < y.length; i++) {
    diff = Math.max(diff, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return diff / scale;
}

const NAMES: ModelVariantName[] = [
  'vit_tiny_patch16_224',
  'vit_small_patch16_224',
  'vit_base_patch16_224',
  'resnet18',
  'resnet50',
];

describeParity('parity with timm and torchvision (PyTorch 2.x)', () => {
  jest.setTimeout(900_000);
  const dir = mkdtempSync(path.join(tmpdir(), 'noisynn-parity-'));
  let versions = '';

  beforeAll(() => {
    versions = python('export', dir);
    console.log(`parity against ${versions}`);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each(NAMES)('%s: their weights load strictly here and give their logits (1e-5 relative)', async (name) => {
    const model = createModel(name, { noise: 'none', initSeed: 1 }).eval();
    try {
      const report = await model.loadWeights(path.join(dir, `${name}.safetensors`), { strict: true });
      expect(report.missing).toEqual([]);
      expect(report.unexpected).toEqual([]);
      const x = readTensor(path.join(dir, 'input.safetensors'), 'x');
      const logits = await model.forward(x);
      const d = relativeDistance(logits, readTensor(path.join(dir, `${name}.logits.safetensors`), 'logits'));
      console.log(
        `${name}: relative distance to ${name.startsWith('vit') ? 'timm' : 'torchvision'} ${d.toExponential(2)}`,
      );
      expect(d).toBeLessThan(1e-5);
    } finally {
      model.dispose();
    }
  });

  test.each(NAMES)('%s: weights saved here load strictly there and give the same logits', async (name) => {
    const model = createModel(name, { noise: 'none', initSeed: 7 }).eval();
    try {
      const file = path.join(dir, `${name}.node.safetensors`);
      await model.saveWeights(file);
      const x = readTensor(path.join(dir, 'input.safetensors'), 'x');
      const ours = await model.forward(x);
      python('check', dir, name);
      const theirs = readTensor(path.join(dir, `${name}.node.python-logits.safetensors`), 'logits');
      expect(relativeDistance(ours, theirs)).toBeLessThan(1e-5);
    } finally {
      model.dispose();
      fs.rmSync(path.join(dir, `${name}.node.safetensors`), { force: true });
    }
  });

  test('the official noise sites match hooks on timm and torchvision modules', async () => {
    python('site', dir);
    const x = readTensor(path.join(dir, 'site-input.safetensors'), 'x');
    // ViT: optimal along the batch on the last block's norm1 output (the qkv input), patch tokens only.
    const vit = createModel('vit_tiny_patch16_224', {
      noise: { kind: 'optimal', axis: 'batch', site: 'attention', layer: -1, when: 'always' },
    }).eval();
    // CNN: the official CNN protocol, linear along the batch with a = 0.4 and the noise term
    // detached, at the input of layer4's block 2 (ResNet-50's last block).
    const cnn = createModel('resnet50', {
      noise: {
        kind: 'linear',
        strength: 0.4,
        detach: true,
        axis: 'batch',
        layer: { stage: 4, block: 2 },
        when: 'always',
      },
    }).eval();
    try {
      await vit.loadWeights(path.join(dir, 'site-vit.safetensors'));
      await cnn.loadWeights(path.join(dir, 'site-cnn.safetensors'));
      const logits = path.join(dir, 'site-logits.safetensors');
      const dv = relativeDistance(await vit.forward(x), readTensor(logits, 'vit'));
      const dc = relativeDistance(await cnn.forward(x), readTensor(logits, 'cnn'));
      console.log(`noise sites: ViT ${dv.toExponential(2)}, ResNet-50 ${dc.toExponential(2)}`);
      expect(dv).toBeLessThan(1e-5);
      expect(dc).toBeLessThan(1e-5);
      // And the sites are live: without noise the logits are far from the hooked ones.
      vit.setNoise('none');
      expect(relativeDistance(await vit.forward(x), readTensor(logits, 'vit'))).toBeGreaterThan(1e-3);
    } finally {
      vit.dispose();
      cnn.dispose();
    }
  });
});
