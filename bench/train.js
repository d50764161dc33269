#!/usr/bin/env node
// Training throughput of vit_mini_patch4_28 (default noise, batch 128, randomCrop + flip +
// normalize) driven from Node (DataLoader + Trainer.fit), against the same loop in a C++-only
// program over the same libtorch (bench/native/train_bench.cc). Prints the ratio of one run.
//   node bench/train.js [timed steps=60] [warmup=5]     (ROUNDS=3 alternating pairs)
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const path = require('path');
const nn = require('../dist');

const steps = Number(process.argv[2] || 60);
const warmup = Number(process.argv[3] || 5);
const batch = 128;
const root = nn.FASHION_MNIST_ROOT;

async function nodeLoop() {
  const model = nn.createModel('vit_mini_patch4_28', { noise: 'default', initSeed: 1 });
  const loader = new nn.DataLoader(new nn.FashionMNIST({ split: 'train', root }), {
    batchSize: batch,
    seed: 1,
    numWorkers: 2,
    prefetch: 4,
    transforms: [
      nn.transforms.randomCrop(28, { padding: 4 }),
      nn.transforms.horizontalFlip(),
      nn.transforms.normalize('fashion-mnist'),
    ],
  });
  await loader.dataset.load();
  const trainer = new nn.Trainer(model, { optimizer: { lr: 1e-3 }, schedule: { totalSteps: warmup + steps }, seed: 1 });
  const stop = new AbortController();
  let start = 0n;
  let end = 0n;
  trainer.on('step', (e) => {
    if (e.step === warmup) start = process.hrtime.bigint();
    if (e.step === warmup + steps) {
      end = process.hrtime.bigint();
      stop.abort();
    }
  });
  await trainer.fit(loader, { epochs: 1000, signal: stop.signal });
  const seconds = Number(end - start) / 1e9;
  return { steps, seconds, imagesPerSecond: (steps * batch) / seconds };
}

function nativeLoop() {
  const dir = path.join(__dirname, '..', 'build-native');
  execFileSync('cmake', ['-S', path.join(__dirname, '..'), '-B', dir, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=Release'], {
    stdio: 'ignore',
  });
  execFileSync('cmake', ['--build', dir, '--target', 'noisynn_train_bench'], { stdio: 'inherit' });
  // The same OpenMP wait policy the addon sets for itself (lib/binding.ts).
  const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY || 'PASSIVE' };
  const r = spawnSync(path.join(dir, 'noisynn_train_bench'), [root, String(steps), String(warmup), String(batch)], {
    encoding: 'utf8',
    env,
  });
  if (r.status !== 0) throw new Error(`native bench failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

(async () => {
  const i = nn.info();
  const rounds = Number(process.env.ROUNDS || 3);
  console.log(
    `train throughput: vit_mini_patch4_28, default noise, batch ${batch}, ${steps} timed steps after ${warmup} warm-up; libtorch ${i.libtorchVersion}, ${i.threads} threads`,
  );
  // Alternate the two loops: this VM's speed drifts by +-15% over tens of seconds, so each pair
  // is compared in the same stretch of time and the ratio is taken over the sums.
  let nativeImages = 0;
  let nativeSeconds = 0;
  let nodeImages = 0;
  let nodeSeconds = 0;
  for (let r = 0; r < rounds; r++) {
    const native = nativeLoop();
    const node = await nodeLoop();
    console.log(
      `round ${r + 1}: C++ loop ${native.imagesPerSecond.toFixed(1)} images/s, Node loop ${node.imagesPerSecond.toFixed(1)} images/s, ratio ${(node.imagesPerSecond / native.imagesPerSecond).toFixed(3)}`,
    );
    nativeImages += native.steps * batch;
    nativeSeconds += native.seconds;
    nodeImages += node.steps * batch;
    nodeSeconds += node.seconds;
  }
  const nativeRate = nativeImages / nativeSeconds;
  const nodeRate = nodeImages / nodeSeconds;
  console.log(`C++ loop : ${nativeRate.toFixed(1)} images/s over ${rounds} rounds`);
  console.log(`Node loop: ${nodeRate.toFixed(1)} images/s over ${rounds} rounds`);
  console.log(`ratio Node / C++: ${(nodeRate / nativeRate).toFixed(3)} (goal >= 0.97)`);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
