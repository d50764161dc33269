// What changes the bits of trained weights on one machine: the CPU kernels ATen dispatches to
// (ATEN_CPU_CAPABILITY), the GEMM kernels OpenBLAS picks (OPENBLAS_CORETYPE) and the thread
// count. Each setting trains the same small ViT (dropout, drop-path, gaussian noise, augmented
// crops) in a fresh process; printed: the weights' SHA-256 prefix, the largest difference from
// the default run, and the seconds per run.
//
//   node bench/reproducibility.js
const { spawnSync } = require('child_process');
const { createHash } = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const dist = path.join(__dirname, '..', 'dist');

async function child(out) {
  const nn = require(dist);
  const images = Uint8Array.from({ length: 256 * 28 * 28 }, (_, i) => (i * 131 + (i >> 8) * 17) % 256);
  const labels = Array.from({ length: 256 }, (_, i) => (i * 7) % 10);
  const data = new nn.TensorDataset({ images, shape: [256, 1, 28, 28], labels });
  const model = nn.createModel('vit_mini_patch4_28', {
    dropout: 0.1,
    dropPath: 0.1,
    noise: { kind: 'gaussian', strength: 0.3, when: 'train', seed: 9 },
    initSeed: 5,
  });
  const transforms = [nn.transforms.randomCrop(28, { padding: 2 }), nn.transforms.horizontalFlip()];
  const started = Date.now();
  await new nn.Trainer(model, { seed: 3 }).fit(new nn.DataLoader(data, { batchSize: 64, seed: 3, transforms }), {
    epochs: 2,
  });
  await model.saveWeights(out);
  process.stdout.write(String((Date.now() - started) / 1000));
}

function floats(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return new Float32Array(Uint8Array.from(buf.subarray(8 + n)).buffer);
}

if (process.argv[2] === '--child') {
  child(process.argv[3]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-repro-bench-'));
  const settings = [
    { name: 'default (this CPU: best kernels, all threads)', env: {} },
    { name: 'default again, another process', env: {} },
    { name: 'ATEN_CPU_CAPABILITY=avx2', env: { ATEN_CPU_CAPABILITY: 'avx2' } },
    { name: 'ATEN_CPU_CAPABILITY=default', env: { ATEN_CPU_CAPABILITY: 'default' } },
    { name: 'OPENBLAS_CORETYPE=Haswell', env: { OPENBLAS_CORETYPE: 'Haswell' } },
    { name: 'OMP_NUM_THREADS=1', env: { OMP_NUM_THREADS: '1' } },
    {
      name: 'pinned: avx2 + Haswell + 1 thread',
      env: { ATEN_CPU_CAPABILITY: 'avx2', OPENBLAS_CORETYPE: 'Haswell', OMP_NUM_THREADS: '1' },
    },
  ];
  let base;
  for (const [i, s] of settings.entries()) {
    const out = path.join(tmp, `${i}.safetensors`);
    const r = spawnSync(process.execPath, [__filename, '--child', out], {
      encoding: 'utf8',
      env: { ...process.env, ...s.env },
    });
    if (r.status !== 0) {
      process.stderr.write(r.stderr);
      process.exit(1);
    }
    const w = floats(out);
    base ??= w;
    let diff = 0;
    for (let k = 0; k < w.length; k++) diff = Math.max(diff, Math.abs(w[k] - base[k]));
    const hash = createHash('sha256').update(fs.readFileSync(out)).digest('hex').slice(0, 12);
    console.log(`${s.name.padEnd(48)} ${hash}  max |dw| ${diff.toExponential(2)}  ${r.stdout}s`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
