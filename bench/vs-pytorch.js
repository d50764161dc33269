#!/usr/bin/env node
// Training step of this package (Trainer.step from Node) against PyTorch eager (bench/pytorch_step.py)
// on the same machine, cores and thread count, in alternating rounds: the VM drifts by +-15% over
// tens of seconds, so each side is timed in the same stretches of time, and each side's best round
// (the median step of that round) is compared. Prints the ratio PyTorch / ours (> 1: we are faster).
//
//   node bench/vs-pytorch.js [--python python3] [--rounds 3] [--steps N] [MODEL ...]
//
// MODEL: vit_mini_patch4_28 (batch 128), vit_small_patch16_224 (32), resnet18 (32), resnet18_small_28 (128).
// --python picks the PyTorch: python3 with Debian's python3-torch (1.13), or .torch/venv/bin/python
// (PyTorch 2.15 with timm, from NOISYNN_TORCH=pip bash scripts/setup.sh).
'use strict';
const { spawn } = require('child_process');
const path = require('path');
const readline = require('readline');
const nn = require('../dist');

const CONFIGS = {
  vit_mini_patch4_28: { batch: 128, steps: 30 },
  vit_small_patch16_224: { batch: 32, steps: 4 },
  resnet18: { batch: 32, steps: 4 },
  resnet18_small_28: { batch: 128, steps: 6 },
};

function parseArgs(argv) {
  const o = { python: 'python3', rounds: 3, steps: null, models: [] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--python') o.python = argv[++i];
    else if (argv[i] === '--rounds') o.rounds = Number(argv[++i]);
    else if (argv[i] === '--steps') o.steps = Number(argv[++i]);
    else if (argv[i] in CONFIGS) o.models.push(argv[i]);
    else throw new Error(`unknown argument ${argv[i]} (models: ${Object.keys(CONFIGS).join(', ')})`);
  }
  if (o.models.length === 0) o.models = ['vit_mini_patch4_28'];
  return o;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The PyTorch child: one JSON line per command. */
function startPython(python, model, batch, threads) {
  const child = spawn(python, [path.join(__dirname, 'pytorch_step.py'), model, String(batch), String(threads)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout });
  const queue = [];
  lines.on('line', (l) => queue.shift()?.(JSON.parse(l)));
  const next = () => new Promise((resolve) => queue.push(resolve));
  return {
    ready: next(),
    run: (n) => {
      const p = next();
      child.stdin.write(`run ${n}\n`);
      return p;
    },
    quit: () => child.stdin.end('quit\n'),
  };
}

async function ours(model, batch) {
  const net = nn.createModel(model, { noise: 'default', initSeed: 1 });
  const size = nn.MODEL_VARIANTS[model].imageSize;
  const [c, h, w] = [net.config.inChannels, size, size];
  const classes = net.config.numClasses;
  const x = new Float32Array(batch * c * h * w);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 12.9898) * 2;
  const images = nn.Tensor.fromTypedArray(x, [batch, c, h, w]);
  const labels = nn.Tensor.fromTypedArray(
    Int32Array.from({ length: batch }, (_, i) => i % classes),
    [batch],
    {
      dtype: 'int64',
    },
  );
  const trainer = new nn.Trainer(net, {
    optimizer: { name: 'adamw', lr: 1e-3, weightDecay: 0.05 },
    schedule: { name: 'constant' },
    seed: 1,
  });
  return {
    run: async (n) => {
      const seconds = [];
      for (let i = 0; i < n; i++) {
        const t0 = process.hrtime.bigint();
        await trainer.step({ images, labels });
        seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      return { seconds };
    },
  };
}

(async () => {
  const o = parseArgs(process.argv.slice(2));
  const info = nn.info();
  console.log(
    `this package: libtorch ${info.libtorchVersion}, ${info.blas.split(' (')[0]}, ${info.threads} threads, kernels ${info.cpuKernels}`,
  );
  for (const model of o.models) {
    const { batch, steps: defaultSteps } = CONFIGS[model];
    const steps = o.steps ?? defaultSteps;
    const py = startPython(o.python, model, batch, info.threads);
    const hello = await py.ready;
    const me = await ours(model, batch);
    // Warm-up: allocator, OpenMP team and caches on both sides.
    await me.run(2);
    await py.run(2);
    const mine = [];
    const theirs = [];
    for (let r = 0; r < o.rounds; r++) {
      // Alternate which side goes first.
      const order = r % 2 === 0 ? ['ours', 'theirs'] : ['theirs', 'ours'];
      for (const side of order) {
        const t = side === 'ours' ? await me.run(steps) : await py.run(steps);
        (side === 'ours' ? mine : theirs).push(median(t.seconds));
      }
      console.log(
        `  ${model} round ${r + 1}: ours ${(1e3 * mine[r]).toFixed(1)} ms, PyTorch ${(1e3 * theirs[r]).toFixed(1)} ms per step`,
      );
    }
    py.quit();
    const bestMine = Math.min(...mine);
    const bestTheirs = Math.min(...theirs);
    console.log(
      `${model} batch ${batch}: ours ${(1e3 * bestMine).toFixed(1)} ms, PyTorch ${hello.torch} (${hello.impl}) ${(1e3 * bestTheirs).toFixed(1)} ms per step (best round's median); PyTorch/ours ${(bestTheirs / bestMine).toFixed(3)}x`,
    );
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
