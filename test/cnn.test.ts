// NoisyCNN trained through the JS Trainer (a fixed number of steps, a fixed accuracy bar), and
// the comparison job on the CNN family and along the spatial axis.
import { NoisyCNN, runComparison, TensorDataset, DataLoader, Trainer } from '../lib';
import { PARAMETER_COUNTS } from './helpers/parameter-counts';
import { rng } from './helpers/random';

jest.setTimeout(240_000);

// A separable toy task on 1x8x8 images: class c is a bright row band 2c..2c+1 over noise.
function toy(n: number, seed: number): TensorDataset {
  const r = rng(seed);
  const labels = Array.from({ length: n }, (_, i) => i % 4);
  const images = new Uint8Array(n * 64);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < 8; y++)
      for (let x = 0; x < 8; x++) {
        const band = y >> 1 === labels[i];
        images[i * 64 + y * 8 + x] = Math.floor((band ? 160 : 0) + r() * 96);
      }
  return new TensorDataset({ images, shape: [n, 1, 8, 8], labels });
}

describe('NoisyCNN through the Trainer', () => {
  test('linear noise at the official site (layer4, detached) while training: learns the toy task in 40 steps', async () => {
    const model = NoisyCNN.create({
      layers: [1, 1, 1, 1],
      inChannels: 1,
      numClasses: 4,
      stem: 'small',
      noise: { kind: 'linear', strength: 0.4, detach: true, when: 'train' },
      initSeed: 3,
    });
    // The official site: the last block of layer4 (block 0 of one).
    expect(model.noise).toMatchObject({ kind: 'linear', detach: true, layer: { stage: 4, block: 0 } });
    const trainer = new Trainer(model, {
      optimizer: { name: 'adamw', lr: 1e-3 },
      schedule: { name: 'constant' },
      seed: 1,
    });
    const losses: number[] = [];
    trainer.on('step', (e) => losses.push(e.loss));
    const result = await trainer.fit(new DataLoader(toy(320, 1), { batchSize: 32, seed: 2 }), { epochs: 4 });
    expect(result.steps).toBe(40);
    expect(losses.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(losses.slice(0, 5).reduce((a, b) => a + b) / 5);
    // Held-out images, shuffled batches, no noise at evaluation (when: 'train').
    const r = await trainer.evaluate(new DataLoader(toy(256, 9), { batchSize: 64, seed: 0 }));
    console.log(`NoisyCNN toy task: loss ${losses[0].toFixed(3)} -> ${losses[39].toFixed(3)}, top-1 ${r.top1}`);
    expect(r.top1).toBeGreaterThanOrEqual(0.9);
  });
});

describe('runComparison beyond the defaults', () => {
  const tiny = { kinds: ['none', 'linear'] as const, seeds: [1], epochs: 1, trainSamples: 128, testSamples: 64 };

  test("family: 'cnn' trains the small-stem ResNet-18", async () => {
    const result = await runComparison({ ...tiny, family: 'cnn', batchSize: 64, audit: false });
    expect(result.config.model).toBe('resnet18_small_28');
    expect(result.config.parameters).toBe(PARAMETER_COUNTS.resnet18_small_28);
    expect(result.runs.map((r) => r.kind)).toEqual(['none', 'linear']);
    for (const run of result.runs) expect(run.history.map((h) => h.epoch)).toEqual([1]);
    expect(result.summary.map((s) => s.label)).toEqual(['none', 'none → optimal', 'linear']);
  });

  test("axis: 'spatial' mixes along the token grid, and its runs differ from the batch axis's", async () => {
    const spatial = await runComparison({ ...tiny, kinds: ['linear'], axis: 'spatial', audit: false });
    const batch = await runComparison({ ...tiny, kinds: ['linear'], axis: 'batch', audit: false });
    expect(spatial.config.noise.axis).toBe('spatial');
    expect(batch.config.noise.axis).toBe('batch');
    // The same seed, data and model: only the axis differs, so the training losses do too.
    expect(spatial.runs[0].trainLoss).not.toBe(batch.runs[0].trainLoss);
  });
});
