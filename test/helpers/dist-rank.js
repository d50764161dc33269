// One rank (or the single-process reference) of the data-parallel tests in test/distributed.test.ts,
// on the built package (NOISYNN_DIST). The scenario and its settings come as JSON in argv[2]:
//   { scenario: 'train', out, runs: [{ name, noise }], world, rank, masterAddr, masterPort, ... }
// Rank 0 (or the single process) writes <out>/<name>.safetensors and prints one JSON line per run.
'use strict';
const fs = require('fs');
const path = require('path');
const nn = require(process.env.NOISYNN_DIST);

const cfg = JSON.parse(process.argv[2]);
if (cfg.out) fs.mkdirSync(cfg.out, { recursive: true });

// A deterministic toy set: 1x8x8 images, 4 classes.
function dataset(n) {
  const images = new Float32Array(n * 64);
  for (let i = 0; i < images.length; i++) images[i] = Math.sin(i * 0.37) + ((i * 2654435761) % 97) / 97;
  const labels = Array.from({ length: n }, (_, i) => i % 4);
  return new nn.TensorDataset({ images, shape: [n, 1, 8, 8], labels });
}

function model(noise) {
  return nn.NoisyViT.create({
    imageSize: 8,
    patchSize: 4,
    inChannels: 1,
    numClasses: 4,
    embedDim: 16,
    depth: 2,
    numHeads: 2,
    initSeed: 7,
    noise: cfg.seedless ? noise : { seed: 11, ...noise },
    ...(cfg.modelOverrides ?? {}),
  });
}

function distributed() {
  if (cfg.world === undefined) return {};
  return {
    distributed: {
      rank: cfg.rank,
      worldSize: cfg.world,
      masterAddr: cfg.masterAddr ?? '127.0.0.1',
      masterPort: cfg.masterPort,
      timeoutMs: cfg.timeoutMs ?? 20000,
    },
  };
}

function trainerOptions() {
  return {
    optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0 },
    schedule: { name: 'constant' },
    ...(cfg.seedless ? {} : { seed: 5 }),
    ...distributed(),
  };
}

// Trains each run for one epoch (cfg.samples samples, batches of cfg.batch per rank) and writes
// its weights; with cfg.epochs and cfg.checkpointDir, a resumable fit instead.
async function train() {
  const data = dataset(cfg.samples);
  for (const run of cfg.runs) {
    const m = model(run.noise);
    const trainer = new nn.Trainer(m, trainerOptions());
    const loader = new nn.DataLoader(data, {
      batchSize: cfg.batch,
      order: 'shuffle',
      seed: 3,
      numWorkers: 0,
      ...(cfg.world === undefined ? {} : { shard: 'auto' }),
    });
    const losses = [];
    trainer.on('step', (e) => {
      losses.push(e.loss);
      const d = cfg.dieAt;
      if (d && trainer.rank === d.rank && e.epoch === d.epoch && e.stepInEpoch === d.step) {
        console.log(JSON.stringify({ event: 'dying', rank: trainer.rank, t: Date.now() }));
        process.kill(process.pid, 'SIGKILL'); // kill -9 of this rank, mid-epoch
      }
      const h = cfg.hangAt;
      if (h && trainer.rank === h.rank && e.epoch === h.epoch && e.stepInEpoch === h.step) {
        console.log(JSON.stringify({ event: 'hanging', rank: trainer.rank, t: Date.now() }));
        process.kill(process.pid, 'SIGSTOP'); // this rank hangs (the test kills it)
      }
    });
    trainer.on('epoch', (e) => console.log(JSON.stringify({ event: 'epoch', epoch: e.epoch, rank: trainer.rank })));
    let fit;
    try {
      fit = await trainer.fit(loader, { epochs: cfg.epochs ?? 1, checkpointDir: cfg.checkpointDir });
    } catch (err) {
      console.log(JSON.stringify({ event: 'error', rank: trainer.rank, message: err.message, t: Date.now() }));
      process.exit(3);
    }
    if (trainer.rank === 0) await m.saveWeights(path.join(cfg.out, `${run.name}.safetensors`));
    console.log(
      JSON.stringify({
        event: 'done',
        name: run.name,
        rank: trainer.rank,
        worldSize: trainer.worldSize,
        losses,
        resumedFrom: fit.resumedFrom,
        seed: trainer.options.seed,
        noiseSeed: m.noise.seed,
      }),
    );
  }
}

// What each rank's shard holds (dropLast and not), then a sharded evaluation.
async function shards() {
  const data = dataset(cfg.samples);
  const seen = {};
  for (const dropLast of [false, true]) {
    const loader = new nn.DataLoader(data, {
      batchSize: 3,
      order: 'shuffle',
      seed: 9,
      dropLast,
      numWorkers: 0,
      shard: 'auto',
    });
    const indices = [];
    const valid = [];
    for await (const b of loader) {
      indices.push(...Array.from(b.indices.toTypedArray(), Number));
      valid.push(b.valid);
    }
    seen[dropLast ? 'dropLast' : 'padded'] = { indices, valid, length: loader.length };
  }
  const m = model({ kind: 'optimal', when: 'train' });
  const trainer = new nn.Trainer(m, { seed: 5, distributed: 'env' });
  const evaluation = await trainer.evaluate(
    new nn.DataLoader(data, { batchSize: 3, order: 'sequential', numWorkers: 0, shard: 'auto' }),
  );
  console.log(JSON.stringify({ event: 'done', rank: trainer.rank, seen, evaluation }));
}

async function joinOnly() {
  const m = model({ kind: 'optimal', ...(cfg.noise ?? {}) });
  const trainer = new nn.Trainer(m, trainerOptions());
  try {
    await trainer.evaluate(new nn.DataLoader(dataset(8), { batchSize: 4, numWorkers: 0 }));
    console.log(JSON.stringify({ event: 'done', rank: cfg.rank }));
  } catch (err) {
    console.log(JSON.stringify({ event: 'error', rank: cfg.rank, name: err.name, message: err.message }));
    process.exit(3);
  }
}

const scenarios = { train, shards, join: joinOnly };
scenarios[cfg.scenario]().catch((err) => {
  console.log(JSON.stringify({ event: 'error', rank: cfg.rank, name: err.name, message: err.message }));
  process.exit(2);
});
