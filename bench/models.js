#!/usr/bin/env node
// Model benchmarks (issue 3): what the noise site adds to a training step of the 28x28 ViT, and
// forward throughput of vit_tiny_patch16_224 and resnet50 on CPU. Figures go to bench/RESULTS.md.
//
//   npm run build && node bench/models.js [--quick]
//
// The step (zero grads, forward, cross-entropy, backward) is timed natively per step; noisy and
// plain models (same initial weights) alternate in short blocks so drift in machine speed hits
// both equally, and each ratio compares medians.
'use strict';
const os = require('os');
const { createModel, Tensor, info } = require('../dist');
const { binding } = require('../dist/binding');

const quick = process.argv.includes('--quick');

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function randomImages(shape, seed) {
  let a = seed >>> 0;
  const n = shape.reduce((p, d) => p * d, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    data[i] = a / 4294967296 - 0.5;
  }
  return Tensor.fromTypedArray(data, shape);
}

function labels(batch, classes) {
  return Tensor.fromTypedArray(BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % classes)), [batch]);
}

async function steps(model, x, y, n) {
  return binding.benchTrainStep(model._handle, x._handle, y._handle, n);
}

// One training step of vit_mini_patch4_28 at batch 128: each noise kind at the default site
// (last block, attention input, batch axis, applied in train mode) against no noise.
async function noiseStepOverhead() {
  const batch = 128;
  const rounds = quick ? 6 : 24;
  const perRound = 4;
  const x = randomImages([batch, 1, 28, 28], 1);
  const y = labels(batch, 10);
  const plain = createModel('vit_mini_patch4_28', { initSeed: 1, noise: 'none' }).train();
  const rows = [];
  for (const kind of ['optimal', 'linear', 'gaussian', 'saltPepper']) {
    const noisy = createModel('vit_mini_patch4_28', { initSeed: 1, noise: { kind, when: 'train' } }).train();
    await steps(noisy, x, y, 3); // warm-up: allocator, thread pools
    await steps(plain, x, y, 3);
    const tNoisy = [];
    const tPlain = [];
    for (let r = 0; r < rounds; r++) {
      tNoisy.push(...(await steps(noisy, x, y, perRound)));
      tPlain.push(...(await steps(plain, x, y, perRound)));
    }
    const mn = median(tNoisy);
    const mp = median(tPlain);
    rows.push({ kind, noisy: mn, plain: mp, ratio: mn / mp });
    noisy.dispose();
  }
  plain.dispose();

  // The op on its own, on the tensor the site noises: [128, 49, 64] patch tokens.
  const tokens = randomImages([batch, 49, 64], 2);
  const reps = 200;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) binding.injectNoise(tokens._handle, { kind: 'optimal', axis: 0, strength: 0, mean: 0, std: 1, seed: '1', offset: String(i), detach: false }, false).dispose();
  const opSeconds = Number(process.hrtime.bigint() - t0) / 1e9 / reps;

  console.log(`\nTraining step (forward, cross-entropy, backward), vit_mini_patch4_28, batch ${batch}, ${rounds * perRound} steps each:`);
  console.log('  noise kind   | with noise | without | ratio');
  for (const r of rows) {
    console.log(`  ${r.kind.padEnd(12)} | ${(r.noisy * 1e3).toFixed(1).padStart(7)} ms | ${(r.plain * 1e3).toFixed(1).padStart(5)} ms | ${r.ratio.toFixed(4)}`);
  }
  console.log(`  the optimal op alone on [${batch}, 49, 64] (forward only): ${(opSeconds * 1e3).toFixed(3)} ms = ${((opSeconds / rows[0].plain) * 100).toFixed(2)}% of a plain step`);
  const worst = Math.max(...rows.map((r) => r.ratio));
  console.log(`  target: ratio <= 1.01; worst kind ${worst.toFixed(4)} -> ${worst <= 1.01 ? 'met' : 'NOT met'}`);
}

// Forward throughput in eval mode (no autograd), batch 32.
async function forwardThroughput() {
  const batch = 32;
  const iterations = quick ? 2 : 6;
  console.log(`\nForward throughput, eval mode, batch ${batch}, CPU (median of ${iterations} batches after a warm-up):`);
  for (const [name, size] of [['vit_tiny_patch16_224', 224], ['resnet50', 224]]) {
    const model = createModel(name, { initSeed: 1 }).eval();
    const x = randomImages([batch, 3, size, size], 3);
    (await model.forward(x)).dispose();
    const times = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = process.hrtime.bigint();
      (await model.forward(x)).dispose();
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const t = median(times);
    console.log(`  ${name.padEnd(22)} ${(batch / t).toFixed(1).padStart(7)} images/s  (${(t * 1e3).toFixed(0)} ms per batch)`);
    model.dispose();
  }
}

async function main() {
  const i = info();
  console.log(`noisynn models bench — ${os.cpus()[0].model}, ${os.cpus().length} CPUs, ${i.threads} torch threads, libtorch ${i.libtorchVersion}, BLAS ${i.blas}`);
  await noiseStepOverhead();
  await forwardThroughput();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
