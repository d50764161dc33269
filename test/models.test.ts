// NoisyViT / NoisyCNN: the variant registry (parameter counts, shapes), noise sites and `when`,
// weights in safetensors (round trip, strict mode, dtype conversion, malformed files), the model
// API and bad input with asserted messages.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MODEL_VARIANTS, NoisyCNN, NoisyModel, NoisyViT, Tensor, createModel, info, listModels } from '../lib';
import type { ModelNoiseOption } from '../lib';
import { binding } from '../lib/binding';
import { normalizeModelNoise } from '../lib/models/noise-site';
import { documentedParameterCounts, PARAMETER_COUNTS } from './helpers/parameter-counts';
import { maxAbsDiff, product, randn } from './helpers/random';
import { CUDA_UNAVAILABLE } from './helpers/cuda';

// ---- helpers ----

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-models-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let fileCounter = 0;
const tmpFile = (name: string) => path.join(tmp, `${fileCounter++}-${name}`);

function images(shape: number[], seed: number): Tensor {
  return Tensor.fromTypedArray(Float32Array.from(randn(product(shape), seed)), shape);
}

async function logits(model: NoisyModel, x: Tensor): Promise<number[]> {
  const y = await model.forward(x);
  const v = Array.from(y.toTypedArray() as Float32Array);
  y.dispose();
  return v;
}

// Errors thrown by the addon come from Node's own realm, not jest's sandbox: compare class names.
function expectErrorClass(caught: unknown, cls: ErrorConstructor): void {
  expect(caught).toBeDefined();
  expect((caught as Error).constructor.name).toBe(cls.name);
}

function expectThrows(fn: () => unknown, cls: ErrorConstructor, message: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expectErrorClass(caught, cls);
  expect((caught as Error).message).toBe(message);
}

async function expectRejects(p: Promise<unknown>, cls: ErrorConstructor, message: string | RegExp): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expectErrorClass(caught, cls);
  if (typeof message === 'string') expect((caught as Error).message).toBe(message);
  else expect((caught as Error).message).toMatch(message);
}

// A safetensors file as the tests see it: a header (object) and the raw data buffer.
interface StEntry {
  dtype: string;
  shape: number[];
  data: Buffer;
}

function readSt(file: string): { entries: Map<string, StEntry>; metadata: Record<string, string> } {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const entries = new Map<string, StEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header) as [
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] },
  ][]) {
    if (name === '__metadata__') metadata = v as unknown as Record<string, string>;
    else
      entries.set(name, {
        dtype: v.dtype,
        shape: v.shape,
        data: buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]),
      });
  }
  return { entries, metadata };
}

function writeSt(file: string, entries: Map<string, StEntry>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, e] of entries) {
    header[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.data.length] };
    offset += e.data.length;
  }
  writeRaw(file, JSON.stringify(header), Buffer.concat([...entries.values()].map((e) => e.data)));
}

// Any header text and data, with an optional lying length field.
function writeRaw(file: string, header: string, data: Buffer, headerLength?: bigint): void {
  const h = Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLength ?? BigInt(h.length));
  fs.writeFileSync(file, Buffer.concat([len, h, data]));
}

function f32(values: number[]): Buffer {
  return Buffer.from(Float32Array.from(values).buffer);
}

// A ViT small enough to make weight files of a few kilobytes.
const TINY_VIT = {
  imageSize: 8,
  patchSize: 4,
  inChannels: 1,
  numClasses: 3,
  embedDim: 8,
  depth: 2,
  numHeads: 2,
} as const;
// A ResNet-10-like model with the small stem: 4.9M parameters, forward on 8x8 inputs.
const SMALL_CNN = { layers: [1, 1, 1, 1], inChannels: 1, numClasses: 3, stem: 'small' } as const;

// ---- the registry ----

describe('variant registry', () => {
  test('lists every variant, in registry order, with a description', () => {
    expect(listModels()).toEqual(Object.keys(MODEL_VARIANTS));
    expect(listModels().sort()).toEqual(Object.keys(PARAMETER_COUNTS).sort());
    for (const name of listModels()) expect(MODEL_VARIANTS[name].description.length).toBeGreaterThan(0);
  });

  test("each variant's doc comment states its published parameter count", () => {
    expect(documentedParameterCounts()).toEqual(PARAMETER_COUNTS);
  });

  // One test walks every variant: construction, pinned parameter count, output shape, no NaNs.
  // Fixed-size ViTs run at their own resolution (batch 1); ResNets take small inputs.
  test.each(listModels())('%s: parameter count, output shape, finite logits', async (name) => {
    const model = createModel(name).eval();
    try {
      const variant = MODEL_VARIANTS[name];
      expect(model.numParameters()).toBe(PARAMETER_COUNTS[name]);
      expect(model.variant).toBe(name);
      expect(model.family).toBe(variant.family);
      const c = model.family === 'vit' ? (model as NoisyViT).config.inChannels : (model as NoisyCNN).config.inChannels;
      const size = variant.family === 'vit' ? variant.imageSize : Math.min(variant.imageSize, 32);
      const batch = variant.family === 'vit' && variant.imageSize > 100 ? 1 : 2;
      const y = await model.forward(images([batch, c, size, size], 7));
      const k = (model as NoisyViT | NoisyCNN).config.numClasses;
      expect(y.shape).toEqual([batch, k]);
      expect(y.dtype).toBe('float32');
      expect((y.toTypedArray() as Float32Array).every(Number.isFinite)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  test('parameter and buffer names are timm / torchvision state-dict keys', () => {
    const vit = NoisyViT.create({ ...TINY_VIT, noise: 'none' });
    const block = (i: number) =>
      [
        'norm1.weight',
        'norm1.bias',
        'attn.qkv.weight',
        'attn.qkv.bias',
        'attn.proj.weight',
        'attn.proj.bias',
        'norm2.weight',
        'norm2.bias',
        'mlp.fc1.weight',
        'mlp.fc1.bias',
        'mlp.fc2.weight',
        'mlp.fc2.bias',
      ].map((k) => `blocks.${i}.${k}`);
    expect(vit.parameterNames()).toEqual([
      'cls_token',
      'pos_embed',
      'patch_embed.proj.weight',
      'patch_embed.proj.bias',
      ...block(0),
      ...block(1),
      'norm.weight',
      'norm.bias',
      'head.weight',
      'head.bias',
    ]);
    expect(vit.stateNames()).toEqual(vit.parameterNames());
    vit.dispose();

    const cnn = createModel('resnet50', { noise: 'none' });
    const bn = (p: string) =>
      ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'].map((k) => `${p}.${k}`);
    const expected = ['conv1.weight', ...bn('bn1'), 'fc.weight', 'fc.bias'];
    [3, 4, 6, 3].forEach((blocks, s) => {
      for (let b = 0; b < blocks; b++) {
        const p = `layer${s + 1}.${b}`;
        for (const i of [1, 2, 3]) expected.push(`${p}.conv${i}.weight`, ...bn(`${p}.bn${i}`));
        if (b === 0) expected.push(`${p}.downsample.0.weight`, ...bn(`${p}.downsample.1`));
      }
    });
    expect([...cnn.stateNames()].sort()).toEqual(expected.sort());
    expect(cnn.parameterNames().some((n) => n.includes('running'))).toBe(false);
    cnn.dispose();
  });

  test('the same initSeed gives the same weights; another seed different ones', async () => {
    const x = images([2, 1, 28, 28], 1);
    const a = createModel('vit_mini_patch4_28', { initSeed: 5, noise: 'none' }).eval();
    const b = createModel('vit_mini_patch4_28', { initSeed: 5, noise: 'none' }).eval();
    const c = createModel('vit_mini_patch4_28', { initSeed: 6, noise: 'none' }).eval();
    expect(await logits(a, x)).toEqual(await logits(b, x));
    expect(maxAbsDiff(await logits(a, x), await logits(c, x))).toBeGreaterThan(1e-4);
    expect(a.config.initSeed).toBe('5');
    for (const m of [a, b, c]) m.dispose();
  });
});

// ---- noise sites ----

describe('noise sites', () => {
  const x28 = images([4, 1, 28, 28], 11);
  const vit = (noise: ModelNoiseOption, extra: Record<string, unknown> = {}) =>
    createModel('vit_mini_patch4_28', { initSeed: 1, noise, ...extra });
  const cnn = (noise: ModelNoiseOption) => NoisyCNN.create({ ...SMALL_CNN, initSeed: 1, noise });
  const x8 = images([4, 1, 8, 8], 12);

  test("the CNN's 'official' preset is the official CNN code: linear 0.4, detached, always, block 2 of layer4", () => {
    const r50 = createModel('resnet50', { noise: 'official' });
    expect(r50.noise).toEqual({
      kind: 'linear',
      strength: 0.4,
      mean: 0,
      std: 1,
      seed: expect.any(String),
      detach: true,
      site: 'block',
      axis: 'batch',
      when: 'always',
      scope: 'global',
      layer: { stage: 4, block: 2 }, // sub_noisy_layer - 1 with the script's 3: the last of resnet50's 3 blocks
    });
    r50.dispose();
    // ResNet-18's layer4 has 2 blocks, so the official code noises none: the preset is noise-free, and says why.
    for (const name of ['resnet18', 'resnet18_small_28'] as const) {
      const r18 = createModel(name, { noise: 'official' });
      expect(r18.noise).toMatchObject({ kind: 'none', when: 'always' });
      expect(r18.noise.note).toBe(
        "the official CNN code noises block index 2 of layer4, and this ResNet's layer4 has 2 blocks: the 'official' preset is noise-free here, as the official code is",
      );
      r18.dispose();
    }
    expect(cnn('official').noise).toMatchObject({ kind: 'none', note: expect.stringContaining('has 1 block:') });
    expect(normalizeModelNoise('official', { family: 'cnn', layers: [3, 4, 6, 3] })).toMatchObject({
      kind: 'linear',
      stage: 4,
      block: 2,
    });
    // A ViT's official noise is the headline runs': optimal, at evaluation only; no note.
    expect(vit('official').noise.note).toBeUndefined();
  });

  test('presets resolve to the official site', () => {
    expect(vit('official').noise).toEqual({
      kind: 'optimal',
      strength: 0,
      mean: 0,
      std: 1,
      seed: expect.any(String),
      detach: false,
      site: 'attention',
      axis: 'batch',
      when: 'eval',
      scope: 'global',
      layer: 3,
    });
    const d = vit(undefined as unknown as ModelNoiseOption).noise; // omitted: the 'default' preset
    expect({ kind: d.kind, when: d.when, site: d.site, axis: d.axis, layer: d.layer }).toEqual({
      kind: 'optimal',
      when: 'train',
      site: 'attention',
      axis: 'batch',
      layer: 3,
    });
    expect(createModel('resnet50', { noise: 'default' }).noise.layer).toEqual({ stage: 4, block: 2 });
    expect(vit({ kind: 'linear', layer: -2, seed: 9 }).noise).toMatchObject({
      kind: 'linear',
      strength: 0.3,
      layer: 2,
      seed: '9',
    });
  });

  test.each([
    ['train', true, false],
    ['eval', false, true],
    ['always', true, true],
  ] as const)("when '%s': noise in train mode %s, in eval mode %s (ViT and CNN)", async (when, inTrain, inEval) => {
    for (const [make, x] of [
      [vit, x28],
      [cnn, x8],
    ] as const) {
      const plain = make('none');
      const noisy = make({ kind: 'optimal', when });
      // Eval first: a CNN's train-mode forward updates its BatchNorm statistics.
      const evalPlain = await logits(plain.eval(), x);
      const evalNoisy = await logits(noisy.eval(), x);
      const trainPlain = await logits(plain.train(), x);
      const trainNoisy = await logits(noisy.train(), x);
      expect(maxAbsDiff(trainPlain, trainNoisy) > 1e-5).toBe(inTrain);
      expect(maxAbsDiff(evalPlain, evalNoisy) > 1e-5).toBe(inEval);
      if (!inEval) expect(evalNoisy).toEqual(evalPlain); // bit for bit where noise is off
      if (!inTrain) expect(trainNoisy).toEqual(trainPlain);
      plain.dispose();
      noisy.dispose();
    }
  });

  test("kind 'none' is the plain model bit for bit, whatever the site", async () => {
    for (const [make, x] of [
      [vit, x28],
      [cnn, x8],
    ] as const) {
      const plain = make('none');
      const none = make({ kind: 'none', when: 'always', axis: 'spatial' });
      for (const mode of [false, true]) {
        expect(await logits(none.train(mode), x)).toEqual(await logits(plain.train(mode), x));
      }
      plain.dispose();
      none.dispose();
    }
    const a = vit('none');
    const b = vit({ kind: 'none', when: 'always', site: 'block', layer: 0 });
    expect(await logits(b.eval(), x28)).toEqual(await logits(a.eval(), x28));
  });

  test('batch-axis noise with batch size 1 equals the noise-free model (saltPepper, which is not batch-axis, does not)', async () => {
    const one28 = images([1, 1, 28, 28], 13);
    const one8 = images([1, 1, 8, 8], 14);
    for (const kind of ['linear', 'optimal', 'saltPepper'] as const) {
      for (const [make, x] of [
        [vit, one28],
        [cnn, one8],
      ] as const) {
        const plain = make('none').eval();
        const noisy = make({ kind, strength: kind === 'saltPepper' ? 0.5 : 0.4, axis: 'batch', when: 'always' }).eval();
        // The official salt and pepper are the max and min of the whole tensor: a lone image is
        // noised too, which is why the audit's batch-size-1 pass no longer switches it off.
        if (kind === 'saltPepper') expect(await logits(noisy, x)).not.toEqual(await logits(plain, x));
        else expect(await logits(noisy, x)).toEqual(await logits(plain, x));
        plain.dispose();
        noisy.dispose();
      }
    }
  });

  test('batch-axis noise mixes samples (the leak); spatial noise keeps them independent', async () => {
    const a = images([1, 1, 28, 28], 21).toTypedArray() as Float32Array;
    const b = images([1, 1, 28, 28], 22).toTypedArray() as Float32Array;
    const c = images([1, 1, 28, 28], 23).toTypedArray() as Float32Array;
    const ab = Tensor.fromTypedArray(Float32Array.from([...a, ...b]), [2, 1, 28, 28]);
    const ac = Tensor.fromTypedArray(Float32Array.from([...a, ...c]), [2, 1, 28, 28]);
    const first = (v: number[]) => v.slice(0, 10);
    const batch = vit({ kind: 'optimal', axis: 'batch', when: 'always' }).eval();
    expect(maxAbsDiff(first(await logits(batch, ab)), first(await logits(batch, ac)))).toBeGreaterThan(1e-4);
    const spatial = vit({ kind: 'optimal', axis: 'spatial', when: 'always' }).eval();
    expect(maxAbsDiff(first(await logits(spatial, ab)), first(await logits(spatial, ac)))).toBeLessThan(1e-5);
    const plain = vit('none').eval();
    expect(maxAbsDiff(first(await logits(plain, ab)), first(await logits(plain, ac)))).toBeLessThan(1e-5);
    // Spatial noise still changes the model (k = 7 token rows).
    expect(maxAbsDiff(await logits(spatial, ab), await logits(plain, ab))).toBeGreaterThan(1e-4);
  });

  test('site and layer select where the noise goes', async () => {
    const out = async (noise: ModelNoiseOption) => logits(vit(noise).eval(), x28);
    const attention = await out({ kind: 'linear', site: 'attention', when: 'always' });
    const block = await out({ kind: 'linear', site: 'block', when: 'always' });
    const first = await out({ kind: 'linear', layer: 0, when: 'always' });
    const plain = await out('none');
    for (const v of [attention, block, first]) expect(maxAbsDiff(v, plain)).toBeGreaterThan(1e-5);
    expect(maxAbsDiff(attention, block)).toBeGreaterThan(1e-5);
    expect(maxAbsDiff(attention, first)).toBeGreaterThan(1e-5);
    const cnnOut = async (noise: ModelNoiseOption) => logits(cnn(noise).eval(), x8);
    const early = await cnnOut({ kind: 'linear', layer: { stage: 1, block: 0 }, when: 'always' });
    const late = await cnnOut({ kind: 'linear', when: 'always' });
    expect(maxAbsDiff(early, late)).toBeGreaterThan(1e-5);
    // detach changes gradients only: the same logits.
    expect(await out({ kind: 'linear', when: 'always', detach: true })).toEqual(attention);
  });

  test('random kinds draw fresh noise each forward, replayable from the seed', async () => {
    const noise = { kind: 'gaussian', strength: 0.5, seed: 42, when: 'always' } as const;
    const a = vit(noise).eval();
    const b = vit(noise).eval();
    const a1 = await logits(a, x28);
    const a2 = await logits(a, x28);
    expect(maxAbsDiff(a1, a2)).toBeGreaterThan(1e-5);
    expect(await logits(b, x28)).toEqual(a1);
    expect(await logits(b, x28)).toEqual(a2);
    a.setNoise(noise); // restarts the stream
    expect(await logits(a, x28)).toEqual(a1);
  });

  // The site itself, against the formulas: patch tokens only, batch axis or token-grid rows.
  test('the ViT site mixes patch tokens only, along the batch or the token-grid rows', () => {
    const [B, gh, gw, C] = [3, 2, 3, 4];
    const T = 1 + gh * gw;
    const x = Float32Array.from(randn(B * T * C, 31));
    const at = (b: number, t: number, c: number) => x[(b * T + t) * C + c];
    const probe = (noise: ModelNoiseOption) =>
      Array.from(
        binding._testing
          .noiseSiteProbe(
            Tensor.fromTypedArray(x, [B, T, C])._handle,
            normalizeModelNoise(noise, { family: 'vit', depth: 1 }),
            'tokens',
            '0',
            gh,
            gw,
          )
          .toTypedArray() as Float32Array,
      );
    const optimal = probe({ kind: 'optimal', axis: 'batch' });
    const linear = probe({ kind: 'linear', strength: 0.3, axis: 'spatial' });
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        expect(optimal[b * T * C + c]).toBe(at(b, 0, c)); // the class token is never mixed
        expect(linear[b * T * C + c]).toBe(at(b, 0, c));
        for (let t = 1; t < T; t++) {
          let sum = 0;
          for (let j = 0; j < B; j++) sum += at(j, t, c);
          expect(optimal[(b * T + t) * C + c]).toBeCloseTo((at(b, t, c) + sum) / (B + 1), 5);
          // Row r of the grid mixes with row r+1 (mod gh), same column.
          const r = Math.floor((t - 1) / gw);
          const col = (t - 1) % gw;
          const next = 1 + ((r + 1) % gh) * gw + col;
          expect(linear[(b * T + t) * C + c]).toBeCloseTo(at(b, t, c) + 0.3 * (at(b, next, c) - at(b, t, c)), 5);
        }
      }
    }
  });

  test('the CNN site mixes feature-map rows (spatial) or samples (batch)', () => {
    const shape = [2, 3, 4, 5];
    const [B, C, H, W] = shape;
    const x = Float32Array.from(randn(product(shape), 32));
    const idx = (b: number, c: number, h: number, w: number) => ((b * C + c) * H + h) * W + w;
    const probe = (noise: ModelNoiseOption) =>
      Array.from(
        binding._testing
          .noiseSiteProbe(
            Tensor.fromTypedArray(x, shape)._handle,
            normalizeModelNoise(noise, { family: 'cnn', layers: [1, 1, 1, 1] }),
            'featureMap',
            '0',
          )
          .toTypedArray() as Float32Array,
      );
    const rows = probe({ kind: 'linear', strength: 0.4, axis: 'spatial' });
    const batch = probe({ kind: 'linear', strength: 0.4, axis: 'batch' });
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        for (let h = 0; h < H; h++) {
          for (let w = 0; w < W; w++) {
            const v = x[idx(b, c, h, w)];
            expect(rows[idx(b, c, h, w)]).toBeCloseTo(v + 0.4 * (x[idx(b, c, (h + 1) % H, w)] - v), 5);
            expect(batch[idx(b, c, h, w)]).toBeCloseTo(v + 0.4 * (x[idx((b + 1) % B, c, h, w)] - v), 5);
          }
        }
      }
    }
  });
});

// ---- weights ----

describe('weights (safetensors)', () => {
  test('ViT round trip: timm key names, float32, metadata; loads into a fresh model', async () => {
    const a = NoisyViT.create({ ...TINY_VIT, initSeed: 1, noise: 'none' }).eval();
    const b = NoisyViT.create({ ...TINY_VIT, initSeed: 2, noise: 'none' }).eval();
    const x = images([2, 1, 8, 8], 3);
    const file = tmpFile('vit.safetensors');
    await a.saveWeights(file);
    const { entries, metadata } = readSt(file);
    expect([...entries.keys()]).toEqual(a.stateNames());
    expect(entries.get('pos_embed')).toMatchObject({ dtype: 'F32', shape: [1, 5, 8] });
    expect(entries.get('blocks.1.attn.qkv.weight')).toMatchObject({ dtype: 'F32', shape: [24, 8] });
    expect(metadata.format).toBe('pt');
    expect(maxAbsDiff(await logits(a, x), await logits(b, x))).toBeGreaterThan(1e-4);
    const report = await b.loadWeights(file);
    expect(report).toEqual({ loaded: a.stateNames(), missing: [], unexpected: [], mismatched: [] });
    expect(await logits(b, x)).toEqual(await logits(a, x));
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]); // written atomically
  });

  test('ResNet round trip carries BatchNorm statistics; num_batches_tracked may be absent', async () => {
    const a = NoisyCNN.create({ ...SMALL_CNN, initSeed: 1, noise: 'none' });
    await logits(a.train(), images([4, 1, 8, 8], 4)); // moves running statistics off their init
    a.eval();
    const file = tmpFile('cnn.safetensors');
    await a.saveWeights(file);
    const { entries } = readSt(file);
    expect(entries.get('bn1.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [] });
    expect(entries.get('bn1.num_batches_tracked')!.data.readBigInt64LE(0)).toBe(1n);
    expect(entries.get('layer2.0.downsample.1.running_var')).toMatchObject({ dtype: 'F32', shape: [128] });

    const x = images([2, 1, 8, 8], 5);
    const b = NoisyCNN.create({ ...SMALL_CNN, initSeed: 2, noise: 'none' }).eval();
    await b.loadWeights(file);
    expect(await logits(b, x)).toEqual(await logits(a, x));

    // torchvision's published checkpoints predate num_batches_tracked: strict still loads, and
    // the counters restart at 0 (as PyTorch does).
    for (const name of [...entries.keys()]) if (name.endsWith('num_batches_tracked')) entries.delete(name);
    const old = tmpFile('cnn-old.safetensors');
    writeSt(old, entries);
    const c = NoisyCNN.create({ ...SMALL_CNN, initSeed: 3, noise: 'none' });
    await logits(c.train(), x);
    const report = await c.eval().loadWeights(old);
    expect(report.missing).toEqual([]);
    expect(await logits(c, x)).toEqual(await logits(a, x));
    const again = tmpFile('cnn-again.safetensors');
    await c.saveWeights(again);
    expect(readSt(again).entries.get('bn1.num_batches_tracked')!.data.readBigInt64LE(0)).toBe(0n);
  });

  test('float64 and float16 files are converted to float32', async () => {
    const a = NoisyViT.create({ ...TINY_VIT, initSeed: 1, noise: 'none' }).eval();
    const file = tmpFile('f32.safetensors');
    await a.saveWeights(file);
    const { entries } = readSt(file);
    const widen = new Map<string, StEntry>();
    for (const [name, e] of entries) {
      const v = new Float32Array(e.data.buffer.slice(e.data.byteOffset, e.data.byteOffset + e.data.length));
      widen.set(name, { dtype: 'F64', shape: e.shape, data: Buffer.from(Float64Array.from(v).buffer) });
    }
    const f64 = tmpFile('f64.safetensors');
    writeSt(f64, widen);
    const b = NoisyViT.create({ ...TINY_VIT, initSeed: 2, noise: 'none' }).eval();
    await b.loadWeights(f64);
    const x = images([2, 1, 8, 8], 6);
    expect(await logits(b, x)).toEqual(await logits(a, x));

    // float16 ones (1.0 = 0x3c00) into every tensor: the model then holds exact ones.
    const half = new Map<string, StEntry>();
    for (const [name, e] of entries) {
      const n = product(e.shape);
      half.set(name, { dtype: 'F16', shape: e.shape, data: Buffer.from(new Uint16Array(n).fill(0x3c00).buffer) });
    }
    const f16 = tmpFile('f16.safetensors');
    writeSt(f16, half);
    await b.loadWeights(f16);
    const saved = tmpFile('ones.safetensors');
    await b.saveWeights(saved);
    const head = readSt(saved).entries.get('head.bias')!;
    expect(head.dtype).toBe('F32');
    expect(
      Array.from(new Float32Array(head.data.buffer.slice(head.data.byteOffset, head.data.byteOffset + 12))),
    ).toEqual([1, 1, 1]);
  });

  test('strict mode lists missing keys, unexpected keys and shape mismatches in one error, changing nothing', async () => {
    const a = NoisyViT.create({ ...TINY_VIT, initSeed: 1, noise: 'none' });
    const file = tmpFile('src.safetensors');
    await a.saveWeights(file);
    const { entries } = readSt(file);
    entries.delete('head.bias');
    entries.delete('norm.weight');
    entries.set('fc.weight', { dtype: 'F32', shape: [2], data: f32([1, 2]) });
    entries.set('pos_embed', { dtype: 'F32', shape: [1, 2, 8], data: f32(new Array(16).fill(0)) });
    const bad = tmpFile('bad.safetensors');
    writeSt(bad, entries);

    const b = NoisyViT.create({ ...TINY_VIT, initSeed: 2, noise: 'none' }).eval();
    const x = images([1, 1, 8, 8], 8);
    const before = await logits(b, x);
    await expectRejects(
      b.loadWeights(bad),
      Error,
      `Cannot load weights from '${bad}' into this vit model (strict): 2 missing keys: norm.weight, head.bias; ` +
        '1 unexpected key: fc.weight; 1 shape mismatch: pos_embed (file [1, 2, 8], model [1, 5, 8]). ' +
        'Pass {strict: false} to load only the matching tensors.',
    );
    expect(await logits(b, x)).toEqual(before);

    const report = await b.loadWeights(bad, { strict: false });
    expect(report.missing).toEqual(['norm.weight', 'head.bias']);
    expect(report.unexpected).toEqual(['fc.weight']);
    expect(report.mismatched).toEqual(['pos_embed (file [1, 2, 8], model [1, 5, 8])']);
    expect(report.loaded).toContain('head.weight');
    expect(report.loaded).not.toContain('pos_embed');

    // A ResNet file into a ViT: nothing matches.
    const cnn = NoisyCNN.create({ ...SMALL_CNN, noise: 'none' });
    const cnnFile = tmpFile('resnet.safetensors');
    await cnn.saveWeights(cnnFile);
    await expectRejects(
      b.loadWeights(cnnFile),
      Error,
      /^Cannot load weights from .* \(strict\): 32 missing keys: cls_token, pos_embed, .*, \.\.\. \(20 more\); 74 unexpected keys: conv1\.weight, bn1\.weight, .*\(62 more\)\. Pass \{strict: false\} to load only the matching tensors\.$/,
    );
  });

  describe('malformed files give a clear error and never read out of bounds', () => {
    const model = NoisyViT.create({ ...TINY_VIT, noise: 'none' });
    const bad = (name: string) => tmpFile(name);
    const invalid = (file: string, what: string) => `Invalid safetensors file '${file}': ${what}`;
    const w16 = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };

    test.each([
      [
        'shorter than the length field',
        (f: string) => fs.writeFileSync(f, Buffer.from([1, 2, 3, 4])),
        'the file is 4 bytes, shorter than the 8-byte header length',
      ],
      [
        'length beyond the file',
        (f: string) => writeRaw(f, '{}', Buffer.alloc(10), 1000n),
        'header length 1000 exceeds the 12 bytes that follow it (truncated file?)',
      ],
      [
        'absurd length',
        (f: string) => writeRaw(f, '{}', Buffer.alloc(0), 1n << 62n),
        "header length 4611686018427387904 exceeds the format's limit of 100000000 bytes",
      ],
      [
        'truncated JSON',
        (f: string) => writeRaw(f, '{"w": {"dtype": "F32"', Buffer.alloc(0)),
        'malformed JSON header: unexpected end of the JSON header',
      ],
      [
        'not JSON',
        (f: string) => writeRaw(f, '{w: 1}', Buffer.alloc(0)),
        'malformed JSON header: expected a string key in a JSON object',
      ],
      [
        'duplicate key',
        (f: string) => writeRaw(f, '{"w": {}, "w": {}}', Buffer.alloc(0)),
        "malformed JSON header: duplicate key 'w' in the JSON header",
      ],
      [
        'header not an object',
        (f: string) => writeRaw(f, '[1, 2]', Buffer.alloc(0)),
        'the header is not a JSON object',
      ],
      [
        'data cut short',
        (f: string) => writeRaw(f, JSON.stringify(w16), f32([1, 2])),
        "tensor 'w': data ends at byte 16 but the data buffer holds only 8 bytes (truncated file?)",
      ],
      [
        'offsets disagree with the shape',
        (f: string) =>
          writeRaw(f, JSON.stringify({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }), f32([1, 2, 3])),
        "tensor 'w': data_offsets span 12 bytes but dtype F32 and its shape need 16",
      ],
      [
        'end before begin',
        (f: string) =>
          writeRaw(f, JSON.stringify({ w: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }), f32([1, 2])),
        "tensor 'w': data_offsets end 4 is before begin 8",
      ],
      [
        'overlapping tensors',
        (f: string) =>
          writeRaw(
            f,
            JSON.stringify({ ...w16, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }),
            f32([1, 2, 3, 4]),
          ),
        "tensor 'b' starts at byte 8 but the previous tensor ends at 16 (overlapping or non-contiguous data)",
      ],
      [
        'bytes after the last tensor',
        (f: string) => writeRaw(f, JSON.stringify(w16), f32([1, 2, 3, 4, 5])),
        'the tensors cover 16 bytes but the data buffer holds 20',
      ],
      [
        'unsupported dtype',
        (f: string) =>
          writeRaw(f, JSON.stringify({ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }), Buffer.alloc(2)),
        "tensor 'w': unsupported dtype 'F8_E4M3' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)",
      ],
      [
        'negative dimension',
        (f: string) =>
          writeRaw(f, JSON.stringify({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), Buffer.alloc(0)),
        "tensor 'w': shape entries must be non-negative integers",
      ],
      [
        'overflowing shape',
        (f: string) =>
          writeRaw(
            f,
            '{"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}',
            Buffer.alloc(0),
          ),
        "tensor 'w': shape is too large",
      ],
      [
        'missing offsets',
        (f: string) => writeRaw(f, JSON.stringify({ w: { dtype: 'F32', shape: [1] } }), f32([1])),
        "tensor 'w': data_offsets must be an array [begin, end]",
      ],
      [
        'metadata not strings',
        (f: string) => writeRaw(f, JSON.stringify({ __metadata__: { a: 1 } }), Buffer.alloc(0)),
        "__metadata__ value 'a' is not a string",
      ],
    ])('%s', async (_label, write, what) => {
      const file = bad('bad.safetensors');
      write(file);
      await expectRejects(model.loadWeights(file), Error, invalid(file, what));
    });

    test('every truncation of a valid file is rejected cleanly', async () => {
      const file = bad('whole.safetensors');
      await model.saveWeights(file);
      const whole = fs.readFileSync(file);
      const cut = bad('cut.safetensors');
      for (let len = 0; len < whole.length; len += len < 700 ? 7 : 151) {
        fs.writeFileSync(cut, whole.subarray(0, len));
        await expectRejects(model.loadWeights(cut), Error, /^Invalid safetensors file '.*': /);
      }
    });

    test('a missing file or a directory', async () => {
      const missing = path.join(tmp, 'nope.safetensors');
      await expectRejects(
        model.loadWeights(missing),
        Error,
        `Cannot open weights file '${missing}': No such file or directory`,
      );
      await expectRejects(
        model.loadWeights(tmp),
        Error,
        new RegExp(`^(Cannot read weights file '${tmp}' \\(is it a directory\\?\\)|Invalid safetensors file)`),
      );
      await expectRejects(
        model.saveWeights(path.join(tmp, 'no-such-dir', 'w.safetensors')),
        Error,
        `Cannot write path ${path.join(tmp, 'no-such-dir', 'w.safetensors')}: its folder ${path.join(tmp, 'no-such-dir')} does not exist`,
      );
    });
  });
});

// ---- the model API ----

describe('model API', () => {
  test('train/eval, device, forward off the JS thread, concurrent forwards', async () => {
    const model = createModel('vit_mini_patch4_28', { noise: 'none' });
    expect(model.training).toBe(true); // like a PyTorch module
    expect(model.eval()).toBe(model);
    expect(model.training).toBe(false);
    expect(model.train().training).toBe(true);
    expect(model.train(false).training).toBe(false);
    expect(model.device).toBe('cpu');
    expect(model.to('cpu')).toBe(model);

    const x = images([8, 1, 28, 28], 9);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const pending = model.forward(x);
    expect(pending).toBeInstanceOf(Promise);
    const results = await Promise.all([pending, model.forward(x), model.forward(x)]);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    const values = results.map((t) => Array.from(t.toTypedArray() as Float32Array));
    expect(values[1]).toEqual(values[0]);
    expect(values[2]).toEqual(values[0]);
    // float64 input is converted.
    const x64 = Tensor.fromTypedArray(Float64Array.from(x.toTypedArray() as Float32Array), [8, 1, 28, 28]);
    expect(await logits(model, x64)).toEqual(values[0]);
  });

  (info().cuda ? test.skip : test)('to(cuda) without CUDA is a RangeError and the model stays on the CPU', () => {
    const model = createModel('vit_mini_patch4_28', { noise: 'none', initSeed: 3 }).eval();
    expectThrows(() => model.to('cuda'), RangeError, `device 'cuda' requested but ${CUDA_UNAVAILABLE}`);
    expect(model.device).toBe('cpu');
  });

  (info().cuda ? test : test.skip)('CUDA logits equal the CPU ones', async () => {
    const model = createModel('vit_mini_patch4_28', { noise: 'none', initSeed: 3 }).eval();
    const x = images([2, 1, 28, 28], 10);
    const cpu = await logits(model, x);
    model.to('cuda');
    expect(model.device).toBe('cuda:0');
    await expectRejects(
      model.forward(x),
      RangeError,
      "Expected x on the model's device cuda:0 but received a tensor on cpu; move one of them with .to(device)",
    );
    expect(maxAbsDiff(await logits(model, x.to('cuda')), cpu)).toBeLessThan(1e-4);
  });

  test('dispose frees the model; any later use throws', async () => {
    const model = createModel('vit_mini_patch4_28');
    const x = images([2, 1, 28, 28], 2);
    const inFlight = model.forward(x);
    model.dispose();
    expect((await inFlight).shape).toEqual([2, 10]); // a forward in flight finishes
    expect(model.disposed).toBe(true);
    model.dispose(); // idempotent
    expectThrows(() => model.numParameters(), Error, 'NoisyViT has been disposed');
    expectThrows(() => model.eval(), Error, 'NoisyViT has been disposed');
    await expectRejects(model.forward(x), Error, 'NoisyViT has been disposed');
    await expectRejects(model.saveWeights(tmpFile('x')), Error, 'NoisyViT has been disposed');
    const cnn = NoisyCNN.create({ ...SMALL_CNN });
    cnn.dispose();
    expectThrows(() => cnn.noise, Error, 'NoisyCNN has been disposed');
  });

  test('forward rejects bad input', async () => {
    const vit = createModel('vit_mini_patch4_28');
    const cnn = NoisyCNN.create({ ...SMALL_CNN });
    await expectRejects(
      vit.forward(3 as unknown as Tensor),
      TypeError,
      'Expected Tensor for x but received 3 (number)',
    );
    await expectRejects(
      vit.forward(images([2, 1, 32, 32], 1)),
      RangeError,
      'Expected x of shape [batch, 1, 28, 28] but received [2, 1, 32, 32]',
    );
    await expectRejects(
      vit.forward(images([1, 28, 28], 1)),
      RangeError,
      'Expected x of shape [batch, 1, 28, 28] but received [1, 28, 28]',
    );
    await expectRejects(
      cnn.forward(images([2, 3, 8, 8], 1)),
      RangeError,
      'Expected x of shape [batch, 1, height, width] but received [2, 3, 8, 8]',
    );
    const bytes = Tensor.fromTypedArray(new Uint8Array(28 * 28), [1, 1, 28, 28]);
    await expectRejects(
      vit.forward(bytes),
      RangeError,
      'Expected a floating-point tensor for x but received dtype uint8 (DataLoader batches are float32 in [0, 1])',
    );
    const gone = images([1, 1, 28, 28], 1);
    gone.dispose();
    await expectRejects(vit.forward(gone), Error, 'Tensor has been disposed');
  });

  test('weight-file options are validated', async () => {
    const model = NoisyViT.create({ ...TINY_VIT });
    await expectRejects(
      model.saveWeights(7 as unknown as string),
      TypeError,
      'Expected non-empty string for path but received 7 (number)',
    );
    await expectRejects(
      model.loadWeights(''),
      RangeError,
      "Expected non-empty string for path but received '' (string)",
    );
    await expectRejects(
      model.loadWeights('w', { strict: 'yes' as unknown as boolean }),
      TypeError,
      "Expected boolean for options.strict but received 'yes' (string)",
    );
    await expectRejects(
      model.loadWeights('w', { strcit: false } as never),
      RangeError,
      "Unknown option 'strcit' in options; expected one of strict",
    );
  });
});

// ---- bad configs ----

describe('bad configs throw with the option named', () => {
  const vitCases: [string, () => unknown, ErrorConstructor, string][] = [
    [
      'embedDim not divisible by numHeads',
      () => NoisyViT.create({ embedDim: 100, numHeads: 3 }),
      RangeError,
      'Expected multiple of numHeads (3) for embedDim but received 100 (number)',
    ],
    [
      'imageSize not divisible by patchSize',
      () => NoisyViT.create({ imageSize: 30, patchSize: 4 }),
      RangeError,
      'Expected multiple of patchSize (4) for imageSize but received 30 (number)',
    ],
    [
      'fractional depth',
      () => NoisyViT.create({ depth: 1.5 }),
      RangeError,
      'Expected positive integer for depth but received 1.5 (number)',
    ],
    [
      'string patchSize',
      () => NoisyViT.create({ patchSize: '16' as unknown as number }),
      TypeError,
      "Expected positive integer for patchSize but received '16' (string)",
    ],
    [
      'dropout of 1',
      () => NoisyViT.create({ dropout: 1 }),
      RangeError,
      'Expected number in [0, 1) for dropout but received 1 (number)',
    ],
    [
      'negative mlpRatio',
      () => NoisyViT.create({ mlpRatio: -1 }),
      RangeError,
      'Expected positive finite number for mlpRatio but received -1 (number)',
    ],
    [
      'unknown key',
      () => NoisyViT.create({ embedDims: 8 } as never),
      RangeError,
      "Unknown option 'embedDims' in config; expected one of imageSize, patchSize, inChannels, numClasses, embedDim, depth, numHeads, mlpRatio, dropout, dropPath, initSeed, noise",
    ],
    [
      'negative initSeed',
      () => NoisyViT.create({ initSeed: -1 }),
      RangeError,
      'Expected non-negative safe integer or bigint for initSeed but received -1 (number)',
    ],
    [
      'unknown site',
      () => createModel('vit_mini_patch4_28', { noise: { kind: 'linear', site: 'mlp' as never } }),
      RangeError,
      "Expected one of 'attention', 'block' for noise.site but received 'mlp' (string)",
    ],
    [
      'layer out of range',
      () => createModel('vit_mini_patch4_28', { noise: { kind: 'linear', layer: 4 } }),
      RangeError,
      'Expected integer between -4 and 3 for noise.layer but received 4 (number)',
    ],
    [
      'layer below range',
      () => createModel('vit_mini_patch4_28', { noise: { kind: 'linear', layer: -5 } }),
      RangeError,
      'Expected integer between -4 and 3 for noise.layer but received -5 (number)',
    ],
    [
      'unknown axis',
      () => createModel('vit_mini_patch4_28', { noise: { kind: 'linear', axis: 'channel' as never } }),
      RangeError,
      "Expected one of 'batch', 'spatial' for noise.axis but received 'channel' (string)",
    ],
    [
      'numeric axis',
      () => createModel('vit_mini_patch4_28', { noise: { kind: 'linear', axis: 0 as never } }),
      TypeError,
      "Expected one of 'batch', 'spatial' for noise.axis but received 0 (number)",
    ],
    [
      'unknown when',
      () => createModel('vit_mini_patch4_28', { noise: { kind: 'linear', when: 'test' as never } }),
      RangeError,
      "Expected one of 'train', 'eval', 'always' for noise.when but received 'test' (string)",
    ],
    [
      'unknown preset',
      () => createModel('vit_mini_patch4_28', { noise: 'paper' as never }),
      RangeError,
      "Expected one of 'default', 'official', 'none' for noise but received 'paper' (string)",
    ],
    [
      'noise of the wrong type',
      () => createModel('vit_mini_patch4_28', { noise: 3 as never }),
      TypeError,
      "Expected one of 'default', 'official', 'none' or a noise config object for noise but received 3 (number)",
    ],
    [
      'missing kind',
      () => createModel('vit_mini_patch4_28', { noise: { axis: 'batch' } as never }),
      TypeError,
      "Expected one of 'none', 'linear', 'optimal', 'gaussian', 'saltPepper' for noise.kind but received undefined",
    ],
    [
      'unknown noise key',
      () => createModel('vit_mini_patch4_28', { noise: { kind: 'linear', stage: 1 } as never }),
      RangeError,
      "Unknown option 'stage' in noise; expected one of kind, axis, strength, mean, std, seed, detach, layer, site, when, scope",
    ],
    [
      'bad strength',
      () => createModel('vit_mini_patch4_28', { noise: { kind: 'saltPepper', strength: 2 } }),
      RangeError,
      'Expected number between 0 and 1 for noise.strength but received 2 (number)',
    ],
  ];
  const cnnCases: [string, () => unknown, ErrorConstructor, string][] = [
    [
      'attention site on a CNN',
      () => createModel('resnet18', { noise: { kind: 'linear', site: 'attention' } }),
      RangeError,
      "Expected one of 'block' for noise.site but received 'attention' (string)",
    ],
    [
      'a number as CNN layer',
      () => createModel('resnet18', { noise: { kind: 'linear', layer: 3 } }),
      TypeError,
      'Expected object {stage, block} for noise.layer but received 3 (number)',
    ],
    [
      'stage out of range',
      () => createModel('resnet18', { noise: { kind: 'linear', layer: { stage: 5 } } }),
      RangeError,
      'Expected integer between 1 and 4 for noise.layer.stage but received 5 (number)',
    ],
    [
      'block out of range',
      () => createModel('resnet50', { noise: { kind: 'linear', layer: { stage: 3, block: 6 } } }),
      RangeError,
      'Expected integer between -6 and 5 for noise.layer.block but received 6 (number)',
    ],
    [
      'three stages',
      () => NoisyCNN.create({ layers: [2, 2, 2] as never }),
      RangeError,
      'Expected array of 4 positive integers for layers but received an array of length 3',
    ],
    [
      'zero blocks',
      () => NoisyCNN.create({ layers: [2, 0, 2, 2] }),
      RangeError,
      'Expected positive integer for layers[1] but received 0 (number)',
    ],
    [
      'unknown block',
      () => NoisyCNN.create({ block: 'wide' as never }),
      RangeError,
      "Expected one of 'basic', 'bottleneck' for block but received 'wide' (string)",
    ],
    [
      'unknown stem',
      () => NoisyCNN.create({ stem: 'tiny' as never }),
      RangeError,
      "Expected one of 'imagenet', 'small' for stem but received 'tiny' (string)",
    ],
    [
      'a ViT key on a CNN',
      () => createModel('resnet18', { patchSize: 4 } as never),
      RangeError,
      "Unknown option 'patchSize' in config; expected one of block, layers, inChannels, numClasses, stem, initSeed, noise",
    ],
  ];
  test.each([...vitCases, ...cnnCases])('%s', (_label, fn, cls, message) => expectThrows(fn, cls, message));

  test('unknown variant names list the known ones', () => {
    const all = listModels()
      .map((n) => `'${n}'`)
      .join(', ');
    expectThrows(
      () => createModel('vit_huge_patch14_224' as never),
      RangeError,
      `Expected one of ${all} for name but received 'vit_huge_patch14_224' (string)`,
    );
    const vits = listModels()
      .filter((n) => MODEL_VARIANTS[n].family === 'vit')
      .map((n) => `'${n}'`)
      .join(', ');
    expectThrows(
      () => NoisyViT.create('resnet18' as never),
      RangeError,
      `Expected one of ${vits} for name but received 'resnet18' (string)`,
    );
    expectThrows(
      () => (NoisyCNN.create as (...args: unknown[]) => unknown)({ noise: 'none' }, {}),
      TypeError,
      'NoisyCNN.create(config) takes no overrides; pass them in the config',
    );
    expectThrows(
      () => new (NoisyViT as unknown as new () => unknown)(),
      TypeError,
      'NoisyViT cannot be constructed directly; use NoisyViT.create(config) or createModel(name)',
    );
  });

  test('setNoise validates against the architecture and keeps the old noise on error', () => {
    const model = createModel('vit_mini_patch4_28', { noise: 'official' });
    expectThrows(
      () => model.setNoise({ kind: 'linear', layer: 9 }),
      RangeError,
      'Expected integer between -4 and 3 for noise.layer but received 9 (number)',
    );
    expect(model.noise.when).toBe('eval');
    model.setNoise({ kind: 'gaussian', layer: 0, when: 'always', axis: 'spatial', site: 'block' });
    expect(model.noise).toMatchObject({ kind: 'gaussian', layer: 0, when: 'always', axis: 'spatial', site: 'block' });
  });
});

describe('model size', () => {
  test('the size estimate matches every registered variant, and a config too large for memory is refused', async () => {
    const { normalizeCNNConfig, normalizeViTConfig } = await import('../lib/models/config');
    const { resnetParameterCount, vitParameterCount } = await import('../lib/models/size');
    for (const [name, v] of Object.entries(MODEL_VARIANTS)) {
      // The small-image variants (28 and 32 pixels) are pinned with 10 classes, the others with 1000.
      const config = { ...v.config, numClasses: /_(28|32)$/.test(name) ? 10 : 1000 };
      const estimate =
        v.family === 'vit'
          ? vitParameterCount(normalizeViTConfig(config as Record<string, unknown>))
          : resnetParameterCount(normalizeCNNConfig(config as Record<string, unknown>));
      expect([name, estimate]).toEqual([name, PARAMETER_COUNTS[name]]);
    }
    expect(() => NoisyViT.create({ depth: 1e6 })).toThrow(
      /^A NoisyViT of this config would have 7\.\d\de\+12 parameters \(28\.\d TB of float32 weights\), more than this machine's memory \([\d.]+ GB\); lower depth, embedDim, mlpRatio, imageSize \/ patchSize or numClasses$/,
    );
    expect(() => NoisyCNN.create({ layers: [1, 1, 1, 1e7] })).toThrow(/^A NoisyCNN of this config would have /);
  });
});
