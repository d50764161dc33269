// The optimizer step against hand computation (torch's formulas): AdamW's betas, eps and
// decoupled weight decay, the no-weight-decay rule, gradient clipping and label smoothing. The
// gradient itself comes from an SGD step of lr 100 on an identical model and batch (p0 - p1 =
// 100 g), so every expectation is computed here from parameters read back from safetensors.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataLoader, NoisyViT, TensorDataset, Trainer } from '../lib';
import type { Batch, TrainerOptions } from '../lib';
import { readFloatTensors } from './helpers/safetensors';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-optim-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let files = 0;

type Params = Map<string, { shape: number[]; values: Float32Array }>;

// No dropout, no noise: a step's gradient depends only on the weights and the batch.
const model = (seed = 5) =>
  NoisyViT.create({
    imageSize: 8,
    patchSize: 4,
    inChannels: 1,
    numClasses: 3,
    embedDim: 8,
    depth: 1,
    numHeads: 2,
    dropout: 0,
    noise: 'none',
    initSeed: seed,
  });

async function params(m: NoisyViT): Promise<Params> {
  const file = path.join(tmp, `${files++}.safetensors`);
  await m.saveWeights(file);
  return readFloatTensors(file);
}

async function batches(): Promise<Batch[]> {
  const images = Uint8Array.from({ length: 16 * 64 }, (_, i) => (i * 73 + (i >> 6) * 11) % 256);
  const labels = Array.from({ length: 16 }, (_, i) => (i * 5) % 3);
  const ds = new TensorDataset({ images, shape: [16, 1, 8, 8], labels });
  const out: Batch[] = [];
  for await (const b of new DataLoader(ds, { batchSize: 8, order: 'sequential' })) out.push(b);
  return out;
}

const SGD_LR = 100;
// The gradient of `batch`'s loss at the weights of `weights` (a file), through an SGD step.
async function gradient(weightsFile: string, batch: Batch, options: Partial<TrainerOptions> = {}): Promise<Params> {
  const m = model();
  await m.loadWeights(weightsFile);
  const before = await params(m);
  const trainer = new Trainer(m, {
    ...options,
    optimizer: { name: 'sgd', lr: SGD_LR, momentum: 0, weightDecay: 0 },
    schedule: { name: 'constant' },
  });
  await trainer.step(batch);
  const after = await params(m);
  const g: Params = new Map();
  for (const [name, p] of before) {
    g.set(name, { shape: p.shape, values: p.values.map((v, i) => (v - after.get(name)!.values[i]) / SGD_LR) });
  }
  return g;
}

async function save(m: NoisyViT): Promise<string> {
  const file = path.join(tmp, `${files++}.safetensors`);
  await m.saveWeights(file);
  return file;
}

// timm's rule as the trainer documents it: weights decay; biases, norms, cls_token, pos_embed do not.
const decays = (name: string, shape: number[]) => shape.length > 1 && !/(cls_token|pos_embed)$/.test(name);

function maxRelError(got: Float32Array, want: ArrayLike<number>, scale: number): number {
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
  return worst;
}

describe('AdamW against its formulas', () => {
  test('two steps: betas, eps and decoupled weight decay, decay only where the rule says', async () => {
    const [b1, b2] = await batches();
    const lr = 0.01;
    const wd = 0.5;
    const [beta1, beta2] = [0.8, 0.95];
    const eps = 1e-3;
    const m = model();
    const p0 = await params(m);
    const w0 = await save(m);
    const trainer = new Trainer(m, {
      optimizer: { name: 'adamw', lr, weightDecay: wd, betas: [beta1, beta2], eps },
      schedule: { name: 'constant' },
    });
    const g1 = await gradient(w0, b1);
    await trainer.step(b1);
    const p1 = await params(m);
    const w1 = await save(m);
    const g2 = await gradient(w1, b2);
    await trainer.step(b2);
    const p2 = await params(m);

    let decayed = 0;
    let kept = 0;
    for (const [name, { shape, values: x0 }] of p0) {
      const d = decays(name, shape) ? wd : 0;
      if (d > 0) decayed++;
      else kept++;
      const a = g1.get(name)!.values;
      const b = g2.get(name)!.values;
      // Step 1: m^ = g, v^ = g^2. Step 2: m = b1(1-b1)g1 + (1-b1)g2, bias-corrected by 1 - b1^2.
      const want1 = Array.from(x0, (x, i) => x * (1 - lr * d) - (lr * a[i]) / (Math.abs(a[i]) + eps));
      const x1 = p1.get(name)!.values;
      const want2 = Array.from(x1, (x, i) => {
        const mm = (beta1 * (1 - beta1) * a[i] + (1 - beta1) * b[i]) / (1 - beta1 ** 2);
        const vv = (beta2 * (1 - beta2) * a[i] ** 2 + (1 - beta2) * b[i] ** 2) / (1 - beta2 ** 2);
        return x * (1 - lr * d) - (lr * mm) / (Math.sqrt(vv) + eps);
      });
      // Float32 weights and a gradient recovered through float32: 2% of one step's size.
      expect([name, maxRelError(x1, want1, lr) < 0.02]).toEqual([name, true]);
      expect([name, maxRelError(p2.get(name)!.values, want2, lr) < 0.02]).toEqual([name, true]);
    }
    expect(decayed).toBeGreaterThan(0);
    expect(kept).toBeGreaterThan(0);
  });

  test('the no-weight-decay rule: weight decay moves weights by lr * wd * x and leaves the rest alone', async () => {
    // Two runs that differ only in weight decay: the Adam term is the same in both.
    const [b1] = await batches();
    const run = async (wd: number) => {
      const m = model();
      const t = new Trainer(m, {
        optimizer: { name: 'adamw', lr: 0.01, weightDecay: wd },
        schedule: { name: 'constant' },
      });
      await t.step(b1);
      return params(m);
    };
    const p0 = await params(model());
    const without = await run(0);
    const withDecay = await run(0.3);
    for (const [name, { shape, values }] of p0) {
      const a = without.get(name)!.values;
      const b = withDecay.get(name)!.values;
      // AdamW multiplies by (1 - lr wd) before the Adam update, so the runs differ by lr wd x0.
      const diff = Math.max(...Array.from(values, (x, i) => Math.abs(a[i] - b[i] - 0.01 * 0.3 * x)));
      const moved = Math.max(...Array.from(values, (_, i) => Math.abs(a[i] - b[i])));
      if (decays(name, shape)) {
        expect([name, diff < 1e-6]).toEqual([name, true]);
      } else {
        expect([name, moved]).toEqual([name, 0]);
      }
    }
  });
});

describe('clipping and label smoothing', () => {
  test('clipGradNorm scales the whole gradient to the threshold and reports the norm before clipping', async () => {
    const [b1] = await batches();
    const w0 = await save(model());
    const g = await gradient(w0, b1);
    let sq = 0;
    for (const { values } of g.values()) for (const v of values) sq += v * v;
    const norm = Math.sqrt(sq);
    const clip = norm / 4;
    const m = model();
    await m.loadWeights(w0);
    const before = await params(m);
    const trainer = new Trainer(m, {
      optimizer: { name: 'sgd', lr: SGD_LR, momentum: 0, weightDecay: 0 },
      schedule: { name: 'constant' },
      clipGradNorm: clip,
    });
    const r = await trainer.step(b1);
    expect(r.gradNorm).toBeCloseTo(norm, 4);
    const after = await params(m);
    for (const [name, { values }] of before) {
      const got = values.map((v, i) => (v - after.get(name)!.values[i]) / SGD_LR);
      const want = Array.from(g.get(name)!.values, (v) => (v * clip) / (norm + 1e-6));
      expect(maxRelError(got, want, clip)).toBeLessThan(1e-3);
    }
    // A threshold above the norm leaves the gradient alone.
    const loose = model();
    await loose.loadWeights(w0);
    const r2 = await new Trainer(loose, {
      optimizer: { name: 'sgd', lr: SGD_LR, momentum: 0, weightDecay: 0 },
      schedule: { name: 'constant' },
      clipGradNorm: norm * 2,
    }).step(b1);
    expect(r2.gradNorm).toBeCloseTo(norm, 4);
    const unclipped = await params(loose);
    for (const [name, { values }] of before) {
      const got = values.map((v, i) => (v - unclipped.get(name)!.values[i]) / SGD_LR);
      expect(maxRelError(got, g.get(name)!.values, norm)).toBeLessThan(1e-4);
    }
  });

  test('labelSmoothing: the loss is (1 - e) cross-entropy + e times the mean of -log p over classes', async () => {
    const [b1] = await batches();
    const m = model();
    const logits = (await m.forward(b1.images)).toTypedArray() as Float32Array;
    const labels = b1.labels.toTypedArray() as BigInt64Array;
    const e = 0.2;
    let ce = 0;
    let uniform = 0;
    for (let i = 0; i < 8; i++) {
      const row = Array.from(logits.subarray(3 * i, 3 * i + 3));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      ce += lse - row[Number(labels[i])];
      uniform += row.reduce((a, v) => a + (lse - v), 0) / 3;
    }
    const want = ((1 - e) * ce + e * uniform) / 8;
    const r = await new Trainer(m, { labelSmoothing: e, schedule: { name: 'constant' } }).step(b1);
    expect(r.loss).toBeCloseTo(want, 5);
    const plain = await new Trainer(model(), { schedule: { name: 'constant' } }).step(b1);
    expect(plain.loss).toBeCloseTo(ce / 8, 5);
  });
});
