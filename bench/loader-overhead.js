#!/usr/bin/env node
// What the threaded data loader costs a training step: the small NoisyViT (vit_mini_patch4_28,
// batch 128, AdamW, optimal noise) trained on Fashion-MNIST through a DataLoader (shuffle,
// randomCrop with padding 2, horizontalFlip, normalize; its worker threads running beside the
// steps) against the same steps on batches the same loader built beforehand and kept in memory.
// Rounds alternate between the two (the VM drifts by +-15% over tens of seconds); each round's
// figure is its median step, and each side's best round is compared. Prints loader / preloaded
// (1.00: the loader costs nothing).
//
//   node bench/loader-overhead.js [--rounds 4] [--steps 40] [--workers 2]
'use strict';
const nn = require('../dist');

const argv = process.argv.slice(2);
const arg = (name, dflt) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
const rounds = arg('--rounds', 4);
const steps = arg('--steps', 40);
const workers = arg('--workers', 2);
const BATCH = 128;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const info = nn.info();
  const model = nn.createModel('vit_mini_patch4_28', { noise: 'default', initSeed: 1 });
  const trainer = new nn.Trainer(model, {
    optimizer: { name: 'adamw', lr: 1e-3, weightDecay: 0.05 },
    schedule: { name: 'constant' },
    seed: 1,
  });
  const loader = new nn.DataLoader(new nn.FashionMNIST({ split: 'train' }), {
    batchSize: BATCH,
    seed: 1,
    dropLast: true,
    numWorkers: workers,
    transforms: [
      nn.transforms.randomCrop(28, { padding: 2 }),
      nn.transforms.horizontalFlip(),
      nn.transforms.normalize('fashion-mnist'),
    ],
  });
  console.log(
    `libtorch ${info.libtorchVersion}, ${info.threads} threads for the steps, ${workers} loader threads, ` +
      `${loader.length} batches of ${BATCH} an epoch; ${rounds} rounds of ${steps} steps each side`,
  );

  // The preloaded side: the loader's own batches, built before timing starts.
  const preloaded = [];
  for await (const b of loader) {
    preloaded.push(b);
    if (preloaded.length === steps) break;
  }

  const timeSteps = async (batches) => {
    const seconds = [];
    for (const b of batches) {
      const t0 = process.hrtime.bigint();
      await trainer.step(b);
      seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return median(seconds);
  };
  // Steps through the loader, timed from asking for the batch to the step's end: what a training
  // loop waits for.
  const throughLoader = async () => {
    const seconds = [];
    const it = loader[Symbol.asyncIterator]();
    let t0 = process.hrtime.bigint();
    for (;;) {
      const { value: b, done } = await it.next();
      if (done) {
        await it.return?.();
        break;
      }
      await trainer.step(b);
      const t1 = process.hrtime.bigint();
      seconds.push(Number(t1 - t0) / 1e9);
      t0 = t1;
      b.images.dispose();
      b.labels.dispose();
      if (seconds.length === steps) {
        await it.return?.();
        break;
      }
    }
    return median(seconds);
  };

  // Warm-up: allocator, OpenMP team, loader threads.
  await timeSteps(preloaded.slice(0, 3));
  await throughLoader();

  const pre = [];
  const thr = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['pre', 'loader'] : ['loader', 'pre'];
    for (const side of order) {
      if (side === 'pre') pre.push(await timeSteps(preloaded));
      else thr.push(await throughLoader());
    }
    console.log(
      `  round ${r + 1}: preloaded ${(1e3 * pre[r]).toFixed(1)} ms, through the loader ${(1e3 * thr[r]).toFixed(1)} ms per step`,
    );
  }
  const bestPre = Math.min(...pre);
  const bestThr = Math.min(...thr);
  console.log(
    `vit_mini_patch4_28 batch ${BATCH}: preloaded ${(1e3 * bestPre).toFixed(1)} ms, through the loader ` +
      `${(1e3 * bestThr).toFixed(1)} ms per step (best round's median); loader/preloaded ${(bestThr / bestPre).toFixed(3)}x`,
  );
  for (const b of preloaded) {
    b.images.dispose();
    b.labels.dispose();
  }
  loader.dispose();
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
