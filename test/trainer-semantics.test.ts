// Trainer semantics across calls: a second fit trains more epochs with its own schedule,
// resumes continue the interrupted fit (and refuse what does not fit it before loading
// anything), one training or evaluation at a time per model, aborts during validation, and the
// metrics log after a kill. Inputs checked against the model: trainer-inputs.test.ts.
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { DataLoader, NoisyViT, TensorDataset, Trainer, TrainerOptions } from '../lib';
import { fashionSlice } from './helpers/data';

jest.setTimeout(120_000);

function tinyVit(seed: number, numClasses = 10) {
  return NoisyViT.create({
    imageSize: 28,
    patchSize: 7,
    inChannels: 1,
    numClasses,
    embedDim: 32,
    depth: 2,
    numHeads: 2,
    noise: 'none',
    initSeed: seed,
  });
}

const tmp = fs.mkdtempSync(path.join(tmpdir(), 'noisynn-semantics-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => path.join(tmp, `d${dirs++}`);

/** A digest of the model's weights, as saved (bit-identical weights give the same digest). */
async function weightDigest(model: NoisyViT): Promise<string> {
  const file = path.join(tmp, `w${dirs++}.safetensors`);
  await model.saveWeights(file);
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

let data: TensorDataset;
beforeAll(async () => {
  data = await fashionSlice('train', 256);
});
// 4 batches per epoch.
const loader = () => new DataLoader(data, { batchSize: 64, seed: 3 });

function recordSteps(trainer: Trainer): { epoch: number; step: number; lr: number }[] {
  const steps: { epoch: number; step: number; lr: number }[] = [];
  trainer.on('step', (e) => steps.push({ epoch: e.epoch, step: e.step, lr: e.lr }));
  return steps;
}

describe('a second fit', () => {
  test('trains more epochs, numbered on, with the schedule restarted over its own steps', async () => {
    const model = tinyVit(1);
    const trainer = new Trainer(model, { schedule: { name: 'cosine', warmupSteps: 1, minLr: 1e-4 }, seed: 1 });
    const steps = recordSteps(trainer);
    const first = await trainer.fit(loader(), { epochs: 1 });
    const afterFirst = await weightDigest(model);
    const second = await trainer.fit(loader(), { epochs: 1 });
    expect(await weightDigest(model)).not.toEqual(afterFirst);
    expect(steps.map((s) => [s.epoch, s.step])).toEqual([
      [1, 1],
      [1, 2],
      [1, 3],
      [1, 4],
      [2, 5],
      [2, 6],
      [2, 7],
      [2, 8],
    ]);
    const lrs = steps.map((s) => s.lr);
    expect(lrs.slice(4)).toEqual(lrs.slice(0, 4));
    for (const lr of lrs) expect(lr).toBeGreaterThan(0);
    expect(lrs[3]).toBeCloseTo(1e-4, 12); // the cosine ends at minLr on the fit's last step
    expect(first).toMatchObject({ epochs: 1, steps: 4, startEpoch: 0, resumedFrom: null });
    expect(second).toMatchObject({ epochs: 2, steps: 8, startEpoch: 1, aborted: false });
    expect(second.history.map((e) => [e.epoch, e.epochs])).toEqual([[2, 2]]);
    expect(trainer.history.map((e) => e.epoch)).toEqual([1, 2]);
    expect(trainer.completedEpochs).toBe(2);
    expect(trainer.learningRate(4)).toBe(lrs[4]);
    expect(() => trainer.learningRate(3)).toThrow(
      new RangeError(
        "Step 3 is before the schedule's current span, which starts at step 4 (each fit restarts the schedule at its first step)",
      ),
    );
  });

  test('with schedule.totalSteps, one schedule runs across the fits', async () => {
    const trainer = new Trainer(tinyVit(2), { optimizer: { lr: 1e-3 }, schedule: { totalSteps: 8 }, seed: 1 });
    const steps = recordSteps(trainer);
    await trainer.fit(loader(), { epochs: 1 });
    await trainer.fit(loader(), { epochs: 1 });
    expect(steps.map((s) => s.lr)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((s) => trainer.learningRate(s)));
    expect(steps[7].lr).toBe(0); // minLr, at the last step of the span
    expect(steps[6].lr).toBeGreaterThan(0);
  });
});

describe('schedules', () => {
  test('cosine reaches minLr at its last step; step decays count from step 0; no span, no silent flat line', async () => {
    const cosine = new Trainer(tinyVit(3), { optimizer: { lr: 1 }, schedule: { totalSteps: 10, minLr: 0.1 } });
    expect(cosine.learningRate(0)).toBe(1);
    expect(cosine.learningRate(9)).toBeCloseTo(0.1, 12);
    expect(cosine.learningRate(50)).toBeCloseTo(0.1, 12);
    const step = new Trainer(tinyVit(3), {
      optimizer: { name: 'sgd', lr: 0.1 },
      schedule: { name: 'step', stepSize: 2, gamma: 0.5, warmupSteps: 2 },
    });
    [0.05, 0.1, 0.05, 0.05, 0.025, 0.025].forEach((lr, s) => expect(step.learningRate(s)).toBeCloseTo(lr, 12));

    const unspanned = new Trainer(tinyVit(3), { seed: 1 });
    const message =
      'The cosine schedule has no span yet: fit() sets it to the steps of the fit (epochs x batches per epoch); ' +
      'give schedule.totalSteps to use learningRate() before fit or step() outside it';
    expect(() => unspanned.learningRate(0)).toThrow(message);
    const batch = await firstBatch(loader());
    await expect(unspanned.step(batch)).rejects.toThrow(message);
    expect(unspanned.globalStep).toBe(0);
  });
});

async function firstBatch(l: DataLoader) {
  for await (const b of l) return b;
  throw new Error('empty loader');
}

describe('resume', () => {
  // A 3-epoch fit stopped (as if killed) once epoch `stopAfter` is checkpointed.
  async function interrupted(dir: string, stopAfter: number, options: TrainerOptions = { seed: 1 }) {
    const trainer = new Trainer(tinyVit(4), options);
    const stop = new AbortController();
    trainer.on('epoch', (e) => e.epoch === stopAfter && stop.abort());
    await trainer.fit(loader(), { epochs: 3, checkpointDir: dir, signal: stop.signal });
    return trainer;
  }

  test('continues the interrupted fit with its epochs, into a trainer that has not trained', async () => {
    const dir = newDir();
    await interrupted(dir, 1);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
    expect(manifest).toMatchObject({
      version: 2,
      epoch: 1,
      step: 4,
      fit: { startEpoch: 0, startStep: 0, epochs: 3, stepsPerEpoch: 4 },
      trainer: { optimizer: { name: 'adamw' } },
      model: { family: 'vit', config: { numClasses: 10, depth: 2 } },
    });

    const fresh = new Trainer(tinyVit(4), { seed: 1 });
    const untouched = await weightDigest(fresh.model as NoisyViT);
    await expect(fresh.fit(loader(), { epochs: 2, checkpointDir: dir })).rejects.toThrow(
      `Cannot resume from ${dir}: its checkpoint is of an interrupted fit of 3 epochs (epochs 1-3, 1 done) and this fit asks for 2; a resume continues that fit: pass epochs: 3`,
    );
    expect(fresh.globalStep).toBe(0);
    expect(await weightDigest(fresh.model as NoisyViT)).toEqual(untouched);

    const trained = new Trainer(tinyVit(4), { seed: 1 });
    await trained.fit(loader(), { epochs: 1 });
    await expect(trained.fit(loader(), { epochs: 3, checkpointDir: dir })).rejects.toThrow(
      `Cannot resume from ${dir}: this trainer has already trained (4 steps); load or resume a checkpoint into a new Trainer`,
    );

    const resumed = await fresh.fit(loader(), { epochs: 3, checkpointDir: dir });
    expect(resumed).toMatchObject({ epochs: 3, steps: 12, startEpoch: 0, resumedFrom: 1, aborted: false });
    expect(resumed.history.map((e) => e.epoch)).toEqual([1, 2, 3]);

    // The trainer stopped right after its own checkpoint continues that fit in the same process.
    const dir2 = newDir();
    const stopped = await interrupted(dir2, 1);
    const continued = await stopped.fit(loader(), { epochs: 3, checkpointDir: dir2 });
    expect(continued).toMatchObject({ epochs: 3, steps: 12, resumedFrom: 1 });
  });

  test('a finished fit resumes to nothing; loadCheckpoint trains further from it', async () => {
    const dir = newDir();
    const done = new Trainer(tinyVit(5), { seed: 1 });
    await done.fit(loader(), { epochs: 2, checkpointDir: dir });

    const again = new Trainer(tinyVit(5), { seed: 1 });
    const steps = recordSteps(again);
    const rerun = await again.fit(loader(), { epochs: 2, checkpointDir: dir });
    expect(steps).toEqual([]);
    expect(rerun).toMatchObject({ epochs: 2, steps: 8, resumedFrom: 2 });
    await expect(new Trainer(tinyVit(5), { seed: 1 }).fit(loader(), { epochs: 3, checkpointDir: dir })).rejects.toThrow(
      `Cannot resume from ${dir}: its checkpoint ends a finished fit of 2 epochs (epochs 1-2) and this fit asks for 3; ` +
        'to train further from it, call trainer.loadCheckpoint(dir) first, then fit the epochs to add',
    );

    const further = new Trainer(tinyVit(5), { seed: 1, schedule: { warmupSteps: 2 } });
    await further.loadCheckpoint(dir);
    expect([further.completedEpochs, further.globalStep]).toEqual([2, 8]);
    const more = recordSteps(further);
    const result = await further.fit(loader(), { epochs: 1, checkpointDir: dir });
    expect(more.map((s) => [s.epoch, s.step])).toEqual([
      [3, 9],
      [3, 10],
      [3, 11],
      [3, 12],
    ]);
    expect(result).toMatchObject({ epochs: 3, startEpoch: 2, resumedFrom: null });
    expect(further.history.map((e) => e.epoch)).toEqual([1, 2, 3]);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
    expect(manifest).toMatchObject({ epoch: 3, step: 12, fit: { startEpoch: 2, startStep: 8, epochs: 1 } });
    // And the trainer's own finished checkpoint: the next fit simply adds epochs.
    expect((await further.fit(loader(), { epochs: 1, checkpointDir: dir })).epochs).toBe(4);
  });

  test('another optimizer, schedule, seed or model is refused before anything is loaded, saying what differs', async () => {
    const dir = newDir();
    await interrupted(dir, 1, { optimizer: { name: 'adamw' }, seed: 1 });
    const cases: [TrainerOptions, number, string][] = [
      [{ optimizer: { name: 'sgd' }, seed: 1 }, 10, "optimizer.name: 'adamw' in the checkpoint, 'sgd' here"],
      [{ optimizer: { lr: 1e-2 }, seed: 1 }, 10, 'optimizer.lr: 0.001 in the checkpoint, 0.01 here'],
      [{ schedule: { warmupSteps: 5 }, seed: 1 }, 10, 'schedule.warmupSteps: 0 in the checkpoint, 5 here'],
      [{ seed: 2 }, 10, "seed: '1' in the checkpoint, '2' here"],
      [{ seed: 1 }, 12, 'model.config.numClasses: 10 in the checkpoint, 12 here'],
    ];
    for (const [options, numClasses, difference] of cases) {
      const model = tinyVit(6, numClasses);
      const before = await weightDigest(model);
      const trainer = new Trainer(model, options);
      await expect(trainer.fit(loader(), { epochs: 3, checkpointDir: dir })).rejects.toThrow(
        `Cannot resume from ${dir}: ${difference}. Nothing was loaded`,
      );
      expect(await weightDigest(model)).toEqual(before);
      expect(trainer.globalStep).toBe(0);
    }
    // A damaged optimizer file fails its load, and the model is still untouched.
    const damaged = tinyVit(6);
    const before = await weightDigest(damaged);
    fs.writeFileSync(path.join(dir, 'epoch-0001.optim.safetensors'), 'not a safetensors file');
    await expect(new Trainer(damaged, { seed: 1 }).fit(loader(), { epochs: 3, checkpointDir: dir })).rejects.toThrow(
      `Cannot load optimizer state from '${path.join(dir, 'epoch-0001.optim.safetensors')}'`,
    );
    expect(await weightDigest(damaged)).toEqual(before);
    fs.rmSync(path.join(dir, 'epoch-0001.optim.safetensors'));
    await expect(new Trainer(tinyVit(6), { seed: 1 }).fit(loader(), { epochs: 3, checkpointDir: dir })).rejects.toThrow(
      `Cannot resume from ${dir}: its checkpoint file epoch-0001.optim.safetensors is missing. Nothing was loaded`,
    );
  });

  test('metrics.jsonl holds each step once after a SIGKILL mid-epoch and a resume', () => {
    const dir = newDir();
    fs.mkdirSync(dir);
    const script = path.join(dir, 'child.js');
    const dist = path.resolve(__dirname, '..', 'dist');
    fs.writeFileSync(
      script,
      `const nn = require(${JSON.stringify(dist)});
      (async () => {
        const images = new Uint8Array(64 * 28 * 28).map((_, i) => (i * 7) % 255);
        const data = new nn.TensorDataset({ images, shape: [64, 1, 28, 28], labels: Array.from({ length: 64 }, (_, i) => i % 10) });
        const model = nn.NoisyViT.create({ imageSize: 28, patchSize: 7, inChannels: 1, numClasses: 10, embedDim: 32, depth: 2, numHeads: 2, initSeed: 1 });
        const trainer = new nn.Trainer(model, { seed: 2 });
        if (process.argv[2] === 'kill') trainer.on('step', (e) => e.epoch === 2 && e.stepInEpoch === 3 && process.kill(process.pid, 'SIGKILL'));
        await trainer.fit(new nn.DataLoader(data, { batchSize: 16, seed: 1 }), { epochs: 3, checkpointDir: ${JSON.stringify(dir)}, metricsLog: ${JSON.stringify(path.join(dir, 'metrics.jsonl'))} });
      })().catch((e) => { console.error(e); process.exit(3); });`,
    );
    expect(spawnSync(process.execPath, [script, 'kill'], { encoding: 'utf8' }).signal).toBe('SIGKILL');
    const resumed = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
    const records = fs
      .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.filter((r) => r.type === 'step').map((r) => r.step)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    expect(records.filter((r) => r.type === 'epoch').map((r) => r.epoch)).toEqual([1, 2, 3]);
  });
});

describe('one training or evaluation at a time per model', () => {
  test('step, evaluate, a second trainer and dispose are refused while a fit runs', async () => {
    const model = tinyVit(7);
    const trainer = new Trainer(model, { seed: 1 });
    const batch = await firstBatch(loader());
    const fitting = trainer.fit(loader(), { epochs: 2 });
    const busy = 'the model is in use by Trainer.fit (one training or evaluation at a time per model); await it first';
    await expect(trainer.step(batch)).rejects.toThrow(`Cannot run Trainer.step: ${busy}`);
    await expect(trainer.evaluate(loader())).rejects.toThrow(`Cannot run Trainer.evaluate: ${busy}`);
    await expect(new Trainer(model, { seed: 2 }).fit(loader(), { epochs: 1 })).rejects.toThrow(
      `Cannot run Trainer.fit: ${busy}`,
    );
    await expect(trainer.fit(loader(), { epochs: 1 })).rejects.toThrow(
      'Trainer.fit is already running on this trainer',
    );
    expect(() => model.dispose()).toThrow(
      'Cannot dispose the model while Trainer.fit is using the NoisyViT; stop it (its signal) and await it first',
    );
    expect(() => model.setNoise('official')).toThrow('Cannot change the noise site while Trainer.fit is using');
    expect((await fitting).steps).toBe(8);
    expect((await trainer.step(batch)).samples).toBe(64);
    model.dispose();
    expect(model.disposed).toBe(true);
  });
});

describe('abort', () => {
  test('an abort during validation ends it within a batch or two; the epoch is kept without it', async () => {
    const n = 4096;
    const images = new Uint8Array(n * 28 * 28).map((_, i) => (i * 13) % 256);
    const big = new TensorDataset({
      images,
      shape: [n, 1, 28, 28],
      labels: Array.from({ length: n }, (_, i) => i % 10),
    });
    const validation = new DataLoader(big, { batchSize: 8, order: 'sequential' });
    const trainer = new Trainer(tinyVit(10), { seed: 1 });
    let started = Date.now();
    await trainer.evaluate(validation);
    const fullPass = Date.now() - started;

    const stop = new AbortController();
    let abortedAt = 0;
    trainer.on('step', (e) => {
      if (e.stepInEpoch === e.stepsPerEpoch) {
        setTimeout(() => {
          abortedAt = Date.now();
          stop.abort();
        }, fullPass / 10);
      }
    });
    const dir = newDir();
    started = Date.now();
    const result = await trainer.fit(loader(), { epochs: 2, validation, checkpointDir: dir, signal: stop.signal });
    const after = Date.now() - abortedAt;
    expect(abortedAt).toBeGreaterThan(0);
    expect(result).toMatchObject({ aborted: true, epochs: 1, steps: 4 });
    expect(result.history[0].validation).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')).epoch).toBe(1);
    // 512 batches take fullPass ms; stopping within a batch or two takes a small fraction (plus the checkpoint).
    expect(after).toBeLessThan(Math.max(250, fullPass / 3));
    console.log(`validation pass ${fullPass} ms; fit returned ${after} ms after the abort`);
  });
});
