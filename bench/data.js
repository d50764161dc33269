#!/usr/bin/env node
// Data benchmarks: DataLoader throughput on Fashion-MNIST with randomCrop + flip +
// normalize, and how much of a vit_mini_patch4_28 training step (batch 128) goes to data.
// Figures go to bench/RESULTS.md, "## Data".
//
//   npm run build && node bench/data.js [--quick]
//
// Throughput: whole epochs of 60000 images, after a warm-up epoch, for 0/1/2 worker threads; the
// event-loop utilisation shows how little of it lands on the JS thread.
// Step share: the same training step (zero grads, forward, cross-entropy, backward, timed
// natively) on a fixed batch and on batches streamed from the loader; "wait" is the time the
// loop spends awaiting the next batch, and the slowdown also counts the loader's threads
// competing with libtorch's for the cores.
'use strict';
const os = require('os');

let lib;
try {
  lib = require('../dist');
} catch (err) {
  console.error('bench/data.js needs the built package: run `npm run build` first.\n' + err.message);
  process.exit(1);
}
const { DataLoader, FashionMNIST, transforms: T, info } = lib;
const { binding } = require('../dist/binding');

const quick = process.argv.includes('--quick');
const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
const augment = [T.randomCrop(28, { padding: 4 }), T.horizontalFlip(), T.normalize('fashion-mnist')];

function disposeBatch(b) {
  b.images.dispose();
  b.labels.dispose();
  b.indices.dispose();
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function throughput(train) {
  const epochs = quick ? 1 : 3;
  console.log(
    `\nLoader throughput, Fashion-MNIST train (60000), batch 128, randomCrop(28, padding 4) + horizontalFlip + normalize, ${epochs} epoch(s) after a warm-up:`,
  );
  console.log('  workers | images/s  | ms per batch | JS event-loop busy');
  const rows = [];
  for (const numWorkers of [0, 1, 2]) {
    const loader = new DataLoader(train, { batchSize: 128, seed: 1, numWorkers, transforms: augment });
    for await (const b of loader) disposeBatch(b); // warm-up
    const elu0 = performance.eventLoopUtilization();
    const t0 = process.hrtime.bigint();
    let images = 0;
    for (let e = 0; e < epochs; e++) {
      for await (const b of loader) {
        images += b.images.shape[0];
        disposeBatch(b);
      }
    }
    const t = seconds(t0);
    const elu = performance.eventLoopUtilization(elu0);
    rows.push({ numWorkers, rate: images / t });
    console.log(
      `  ${String(numWorkers).padStart(7)} | ${(images / t).toFixed(0).padStart(9)} | ${((t / (epochs * loader.length)) * 1e3).toFixed(3).padStart(12)} | ${(elu.utilization * 100).toFixed(1)}%`,
    );
  }
  return rows;
}

async function stepShare(train) {
  const { createModel } = lib;
  if (typeof createModel !== 'function' || typeof binding._testing?.benchTrainStep !== 'function') {
    console.log('\n(step share skipped: this build has no models)');
    return null;
  }
  const rounds = quick ? 4 : 12;
  const perRound = 10;
  const loader = new DataLoader(train, { batchSize: 128, seed: 2, numWorkers: 2, transforms: augment });
  const model = createModel('vit_mini_patch4_28', { initSeed: 1, noise: 'none' }).train();
  const step = async (b) =>
    (await binding._testing.benchTrainStep(model._handle, b.images._handle, b.labels._handle, 1))[0];

  // The pass-start latency: from asking for a pass to holding its first batch.
  let t0 = process.hrtime.bigint();
  let it = loader[Symbol.asyncIterator]();
  const fixed = (await it.next()).value; // also the fixed batch of the data-free steps
  const firstBatch = seconds(t0);
  for (let i = 0; i < 5; i++) await step(fixed); // warm-up

  // Fixed-batch and loader-fed blocks alternate, so drift in machine speed hits both; the
  // loader pass continues across blocks (epochs roll over), as in training.
  const plain = [];
  const fed = [];
  const waits = [];
  let fedWall = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < perRound; i++) plain.push(await step(fixed));
    t0 = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) {
      const w0 = process.hrtime.bigint();
      let next = await it.next();
      if (next.done) {
        it = loader[Symbol.asyncIterator]();
        next = await it.next();
      }
      waits.push(seconds(w0));
      fed.push(await step(next.value));
      disposeBatch(next.value);
    }
    fedWall += seconds(t0);
  }
  await it.return();
  const n = fed.length;
  const plainMean = plain.reduce((a, b) => a + b, 0) / n;
  const waitTotal = waits.reduce((a, b) => a + b, 0);
  const r = {
    steps: n,
    plainMedian: median(plain),
    plainMean,
    fedMedian: median(fed),
    waitMedian: median(waits),
    waitMax: Math.max(...waits),
    waitShare: waitTotal / fedWall,
    perIteration: fedWall / n,
    slowdown: fedWall / n / plainMean - 1,
    firstBatch,
  };
  console.log(
    `\nvit_mini_patch4_28 training step (forward, cross-entropy, backward), batch 128, loader with 2 workers, ${n} steps each way in alternating blocks of ${perRound}:`,
  );
  console.log(
    `  step on a fixed batch:           median ${(r.plainMedian * 1e3).toFixed(1)} ms, mean ${(plainMean * 1e3).toFixed(1)} ms`,
  );
  console.log(`  step on loader batches:          median ${(r.fedMedian * 1e3).toFixed(1)} ms`);
  console.log(
    `  waiting for the next batch:      median ${(r.waitMedian * 1e3).toFixed(3)} ms, max ${(r.waitMax * 1e3).toFixed(3)} ms, total ${((waitTotal / n) * 1e3).toFixed(3)} ms per step = ${(r.waitShare * 100).toFixed(3)}% of the loop`,
  );
  console.log(
    `  loop time per step with loader:  ${(r.perIteration * 1e3).toFixed(1)} ms (${(r.slowdown * 100).toFixed(2)}% vs the fixed-batch mean: waiting and CPU contention together, plus noise)`,
  );
  console.log(
    `  first batch of a pass (start-up): ${(firstBatch * 1e3).toFixed(2)} ms, once per epoch of ${loader.length} steps`,
  );
  console.log(`  target: waiting < 1% of step time -> ${r.waitShare < 0.01 ? 'met' : 'NOT met'}`);
  disposeBatch(fixed);
  model.dispose();
  return r;
}

async function main() {
  const i = info();
  console.log(
    `noisynn data bench — ${os.cpus()[0].model}, ${os.cpus().length} CPUs, ${i.threads} torch threads, libtorch ${i.libtorchVersion}, BLAS ${i.blas}`,
  );
  const t0 = process.hrtime.bigint();
  const train = await new FashionMNIST({ split: 'train' }).load();
  console.log(`Fashion-MNIST train loaded (gzip IDX, 60000 images) in ${(seconds(t0) * 1e3).toFixed(0)} ms`);
  await throughput(train);
  await stepShare(train);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
