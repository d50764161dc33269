#!/usr/bin/env node
// Model benchmarks: what the noise site adds to a training step of the 28x28 ViT, and
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
const { _normalizeModelNoise } = require('../dist/models');

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
  return Tensor.fromTypedArray(
    BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % classes)),
    [batch],
  );
}

async function steps(model, x, y, n) {
  return binding._testing.benchTrainStep(model._handle, x._handle, y._handle, n);
}

// One training step of vit_mini_patch4_28 at batch 128: each noise kind at the default site
// (last block, attention input, batch axis, applied in train mode) against no noise. Steps
// alternate noisy/plain in ABBA order, one step at a time, so load from other processes and
// drift in clock speed fall on both sides alike; the ratio compares medians.
async function noiseStepOverhead() {
  const batch = 128;
  const pairs = quick ? 10 : 40;
  const x = randomImages([batch, 1, 28, 28], 1);
  const y = labels(batch, 10);
  const plain = createModel('vit_mini_patch4_28', { initSeed: 1, noise: 'none' }).train();
  await steps(plain, x, y, 3); // warm-up: allocator, thread pools
  const rows = [];
  for (const kind of ['optimal', 'linear', 'gaussian', 'saltPepper']) {
    const noisy = createModel('vit_mini_patch4_28', { initSeed: 1, noise: { kind, when: 'train' } }).train();
    await steps(noisy, x, y, 2);
    const tNoisy = [];
    const tPlain = [];
    for (let i = 0; i < pairs; i++) {
      if (i % 2 === 0) {
        tNoisy.push(...(await steps(noisy, x, y, 1)));
        tPlain.push(...(await steps(plain, x, y, 1)));
      } else {
        tPlain.push(...(await steps(plain, x, y, 1)));
        tNoisy.push(...(await steps(noisy, x, y, 1)));
      }
    }
    const mn = median(tNoisy);
    const mp = median(tPlain);
    rows.push({
      kind,
      noisy: mn,
      plain: mp,
      ratio: mn / mp,
      minRatio: Math.min(...tNoisy) / Math.min(...tPlain),
      plainMin: Math.min(...tPlain),
    });
    noisy.dispose();
  }
  plain.dispose();

  // The site on its own, forward and backward, on the tokens it noises inside the step: the
  // LayerNorm output of the last block, [128, 1 + 7*7, 64]. This is everything noise adds to a
  // step (the op plus splitting off and re-attaching the class token), measured without the
  // variance of a 200 ms step.
  const tokens = randomImages([batch, 50, 64], 2);
  const reps = quick ? 50 : 200;
  for (const r of rows) {
    const site = _normalizeModelNoise({ kind: r.kind, when: 'train' }, { family: 'vit', depth: 4 });
    r.site = Math.min(...(await binding._testing.benchNoiseSite(tokens._handle, site, 7, 7, reps)));
  }

  console.log(
    `\nTraining step (forward, cross-entropy, backward), vit_mini_patch4_28, batch ${batch}, ${pairs} steps each (ABBA):`,
  );
  console.log(
    '  noise kind   | median with / without | ratio of medians | ratio of minima | site fwd+bwd alone | 1 + site / step',
  );
  for (const r of rows) {
    const ms = (t) => `${(t * 1e3).toFixed(1)} ms`;
    console.log(
      `  ${r.kind.padEnd(12)} | ${ms(r.noisy).padStart(9)} / ${ms(r.plain).padStart(9)} | ${r.ratio.toFixed(4).padStart(16)} | ` +
        `${r.minRatio.toFixed(4).padStart(15)} | ${(r.site * 1e3).toFixed(3).padStart(9)} ms       | ${(1 + r.site / r.plainMin).toFixed(4)}`,
    );
  }
  // Medians move with load from other processes; the minima and the site alone measure the cost itself.
  console.log('  target: at most 1% more (<= 1.01), for the default noise (optimal):');
  const d = rows[0];
  console.log(
    `    ratio of minima ${d.minRatio.toFixed(4)}, site cost ${(1 + d.site / d.plainMin).toFixed(4)} -> ${Math.max(d.minRatio, 1 + d.site / d.plainMin) <= 1.01 ? 'met' : 'NOT met'}`,
  );
}

// Forward throughput in eval mode (no autograd), batch 32.
async function forwardThroughput() {
  const batch = 32;
  const iterations = quick ? 2 : 6;
  console.log(
    `\nForward throughput, eval mode, batch ${batch}, CPU (median of ${iterations} batches after a warm-up):`,
  );
  for (const [name, size] of [
    ['vit_tiny_patch16_224', 224],
    ['resnet50', 224],
  ]) {
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
    console.log(
      `  ${name.padEnd(22)} ${(batch / t).toFixed(1).padStart(7)} images/s  (${(t * 1e3).toFixed(0)} ms per batch)`,
    );
    model.dispose();
  }
}

async function main() {
  const i = info();
  console.log(
    `noisynn models bench — ${os.cpus()[0].model}, ${os.cpus().length} CPUs, ${i.threads} torch threads, libtorch ${i.libtorchVersion}, BLAS ${i.blas}`,
  );
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  // Other processes skew wall-clock figures; the load average says how quiet the machine was.
  console.log(`load average before: ${load()}`);
  await noiseStepOverhead();
  await forwardThroughput();
  console.log(`load average after: ${load()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
