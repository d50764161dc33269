#!/usr/bin/env node
// Data-parallel training on this machine's cores: 2 ranks x 1 thread (Gloo over loopback) against
// 1 process x 2 threads on the same global batch (vit_mini_patch4_28, default noise: optimal over
// the global batch), in alternating rounds, best round per side; then Gloo's all-reduce bandwidth
// on loopback. Prints the load average before each round (the machine is shared).
//   node bench/distributed.js [timed steps=30] [rounds=3] [global batch=128]
'use strict';
const { spawn } = require('child_process');
const net = require('net');
const os = require('os');

const child_ = process.argv[2] === '--child';
const [steps, rounds, globalBatch] = child_
  ? [JSON.parse(process.argv[3]).steps, 1, JSON.parse(process.argv[3]).globalBatch]
  : [30, 3, 128].map((d, i) => Number(process.argv[2 + i] || d));
const warmup = 5;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function child(cfg, threads) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [__filename, '--child', JSON.stringify(cfg)], {
      env: { ...process.env, OMP_NUM_THREADS: String(threads) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) =>
      code === 0
        ? resolve(out.trim() ? JSON.parse(out.trim().split('\n').pop()) : null)
        : reject(new Error(`child exited ${code}`)),
    );
  });
}

async function runTraining(world) {
  const masterPort = await freePort();
  const threads = Math.max(1, Math.floor(2 / world));
  const results = await Promise.all(
    Array.from({ length: world }, (_, rank) =>
      child({ mode: 'train', rank, world, masterPort, steps, globalBatch }, threads),
    ),
  );
  return results[0].imagesPerSecond;
}

async function runAllReduce() {
  const masterPort = await freePort();
  const results = await Promise.all([0, 1].map((rank) => child({ mode: 'allreduce', rank, world: 2, masterPort }, 1)));
  return results[0];
}

async function main() {
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(
    `${os.cpus().length} cores (${os.cpus()[0].model}); global batch ${globalBatch}, ${steps} timed steps after ${warmup}`,
  );
  const best = { single: 0, ranks: 0 };
  for (let r = 1; r <= rounds; r++) {
    const before = load();
    const single = await runTraining(1);
    const ranks = await runTraining(2);
    best.single = Math.max(best.single, single);
    best.ranks = Math.max(best.ranks, ranks);
    console.log(
      `round ${r} (load ${before}): 1 process x 2 threads ${single.toFixed(1)} img/s, 2 ranks x 1 thread ${ranks.toFixed(1)} img/s, ratio ${(ranks / single).toFixed(3)}`,
    );
  }
  console.log(
    `best rounds: 1 x 2 threads ${best.single.toFixed(1)} img/s, 2 x 1 thread ${best.ranks.toFixed(1)} img/s, ratio ${(best.ranks / best.single).toFixed(3)}`,
  );
  console.log(`Gloo all-reduce, 2 ranks on loopback (load ${load()}):`);
  for (const row of await runAllReduce()) {
    console.log(
      `  ${String(row.mb).padStart(4)} MB float32: ${row.ms.toFixed(2).padStart(8)} ms (best of ${row.reps}), algbw ${row.algbw.toFixed(2)} GB/s, busbw ${row.busbw.toFixed(2)} GB/s`,
    );
  }
}

// ---- the children ----

async function trainChild(cfg) {
  const nn = require('../dist');
  const { rank, world, masterPort } = cfg;
  const n = globalBatch * (warmup + steps);
  const images = new Uint8Array(n * 28 * 28).map((_, i) => (i * 2654435761) >>> 24);
  const data = new nn.TensorDataset({
    images,
    shape: [n, 1, 28, 28],
    labels: Array.from({ length: n }, (_, i) => i % 10),
  });
  const model = nn.createModel('vit_mini_patch4_28', { noise: 'default', initSeed: 1 });
  const dist = world > 1 ? { distributed: { rank, worldSize: world, masterAddr: '127.0.0.1', masterPort } } : {};
  const trainer = new nn.Trainer(model, { seed: 1, schedule: { name: 'constant' }, ...dist });
  const loader = new nn.DataLoader(data, {
    batchSize: globalBatch / world,
    seed: 1,
    numWorkers: world > 1 ? 1 : 2,
    transforms: [nn.transforms.normalize('fashion-mnist')],
    ...(world > 1 ? { shard: { rank, worldSize: world } } : {}),
  });
  let i = 0;
  let start = 0n;
  for await (const b of loader) {
    if (i === warmup) start = process.hrtime.bigint();
    await trainer.step(b);
    b.images.dispose();
    b.labels.dispose();
    b.indices.dispose();
    i++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ imagesPerSecond: (steps * globalBatch) / seconds }));
}

async function allReduceChild(cfg) {
  const { binding } = require('../dist/binding');
  const group = await binding.createProcessGroup({
    backend: 'gloo',
    rank: cfg.rank,
    worldSize: cfg.world,
    masterAddr: '127.0.0.1',
    masterPort: cfg.masterPort,
    timeoutMs: 60000,
  });
  const rows = [];
  for (const mb of [1, 4, 16, 64]) {
    const n = (mb << 20) / 4;
    const t = binding.NativeTensor.fromTypedArray(new Float32Array(n).fill(1), [n], 'float32', 'cpu');
    const reps = mb >= 64 ? 5 : 10;
    let bestMs = Infinity;
    for (let r = 0; r < reps + 1; r++) {
      const t0 = process.hrtime.bigint();
      await group.allReduce(t, 'sum');
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r > 0) bestMs = Math.min(bestMs, ms); // the first one warms the buffers up
    }
    const bytes = n * 4;
    const algbw = bytes / (bestMs / 1000) / 1e9;
    rows.push({ mb, ms: bestMs, reps, algbw, busbw: (algbw * 2 * (cfg.world - 1)) / cfg.world });
  }
  await group.barrier();
  console.log(JSON.stringify(rows));
}

if (child_) {
  const cfg = JSON.parse(process.argv[3]);
  (cfg.mode === 'train' ? trainChild(cfg) : allReduceChild(cfg)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
