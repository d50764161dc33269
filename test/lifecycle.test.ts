// The edges of a process's life while native work runs: process.exit(), an uncaught exception and
// worker.terminate() in the middle of a training step or a forward pass end the process (or the
// worker) cleanly, with the status asked for, 20 times each. Each case runs in a child process
// (the built package in dist/), so a crash shows as a signal instead of taking jest down.
import { spawn } from 'child_process';
import * as path from 'path';

const DIST = path.join(__dirname, '..', 'dist');
const RUNS = 20;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[] = []): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script, ...args], {
      env: { ...process.env, NOISYNN_DIST: DIST, OMP_NUM_THREADS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `count` children, two at a time, the i-th with args(i). */
async function runMany(count: number, script: string, args: (i: number) => string[]): Promise<Outcome[]> {
  const out: Outcome[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await run(script, args(i));
    }
  };
  await Promise.all([lane(), lane()]);
  return out;
}

// A training job that is mid-step most of the time: the mini ViT on random images, then either
// process.exit(4) or an uncaught throw after `delay` ms (argv[1], argv[2]).
const TRAINING = `
  const nn = require(process.env.NOISYNN_DIST);
  const [mode, delay] = [process.argv[1], Number(process.argv[2])];
  const n = 4096;
  const images = new Uint8Array(n * 28 * 28).map((_, i) => (i * 2654435761) >>> 24);
  const labels = Array.from({ length: n }, (_, i) => i % 10);
  const data = new nn.TensorDataset({ images, shape: [n, 1, 28, 28], labels });
  const loader = new nn.DataLoader(data, { batchSize: 64, seed: 1, numWorkers: 1 });
  const model = nn.createModel('vit_mini_patch4_28', { initSeed: 1 });
  const trainer = new nn.Trainer(model, { seed: 1 });
  trainer.fit(loader, { epochs: 1 });
  setTimeout(() => {
    if (mode === 'exit') process.exit(4);
    throw new Error('boom in the middle of training');
  }, delay);
`;

describe('process exit while a training step runs', () => {
  jest.setTimeout(300_000);

  test(`process.exit(4) exits with status 4, ${RUNS} times`, async () => {
    const outcomes = await runMany(RUNS, TRAINING, (i) => ['exit', String(100 + 23 * i)]);
    for (const o of outcomes)
      expect({ code: o.code, signal: o.signal, stderr: o.stderr }).toEqual({ code: 4, signal: null, stderr: '' });
  });

  test(`an uncaught exception exits with status 1 and its message, ${RUNS} times`, async () => {
    const outcomes = await runMany(RUNS, TRAINING, (i) => ['throw', String(100 + 23 * i)]);
    for (const o of outcomes) {
      expect({ code: o.code, signal: o.signal }).toEqual({ code: 1, signal: null });
      expect(o.stderr).toContain('boom in the middle of training');
    }
  });
});

describe('worker.terminate() during native work', () => {
  jest.setTimeout(300_000);

  // In one process, RUNS workers each start a forward pass on a large batch or a fit, and are
  // terminated 50 ms in; the main thread must survive them all.
  const WORKERS = `
    const { Worker } = require('worker_threads');
    const body = \`
      const nn = require(process.env.NOISYNN_DIST);
      const { workerData } = require('worker_threads');
      const model = nn.createModel('vit_mini_patch4_28', { initSeed: 1 });
      if (workerData === 'forward') {
        const x = nn.Tensor.fromTypedArray(new Float32Array(1024 * 28 * 28).fill(0.5), [1024, 1, 28, 28]);
        model.forward(x);
      } else {
        const n = 2048;
        const data = new nn.TensorDataset({ images: new Uint8Array(n * 28 * 28), shape: [n, 1, 28, 28], labels: Array.from({ length: n }, (_, i) => i % 10) });
        new nn.Trainer(model, { seed: 1 }).fit(new nn.DataLoader(data, { batchSize: 64, seed: 1 }), { epochs: 1 });
      }
      require('worker_threads').parentPort.postMessage('started');
    \`;
    (async () => {
      for (let i = 0; i < ${RUNS}; i++) {
        const w = new Worker(body, { eval: true, workerData: i % 2 ? 'fit' : 'forward' });
        await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
        await new Promise((resolve) => setTimeout(resolve, 50));
        await w.terminate();
      }
      console.log('main thread alive after ${RUNS} terminations');
    })();
  `;

  test(`the main thread lives on, ${RUNS} terminations (forward and fit)`, async () => {
    const o = await run(WORKERS);
    expect({ code: o.code, signal: o.signal, stderr: o.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    expect(o.stdout).toContain(`main thread alive after ${RUNS} terminations`);
  });
});
