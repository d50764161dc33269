// Data-parallel training on c10d (Gloo): ranks are child processes of the built package (dist/) on
// 127.0.0.1 with free ports, or in two network namespaces, each running a scenario of
// helpers/dist-rank.js. W ranks with batches of b must train exactly as one process with batches
// of W x b, for every noise kind with 'global' scope; faults must end every rank with an error
// naming the rank at fault, never a hang.
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { DataLoader, NoisyViT, TensorDataset, Trainer } from '../lib';
import { main } from '../lib/cli';

const DIST = path.join(__dirname, '..', 'dist');
const RANK = path.join(__dirname, 'helpers', 'dist-rank.js');

interface Line {
  event: 'done' | 'error' | 'epoch' | 'dying' | 'hanging';
  rank?: number;
  name?: string;
  message?: string;
  losses?: number[];
  [key: string]: unknown;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Line[];
  stderr: string;
  ms: number;
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-dist-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function startRank(
  cfg: Record<string, unknown>,
  options: { env?: NodeJS.ProcessEnv; netns?: string } = {},
): { child: ChildProcess; done: Promise<Outcome> } {
  const node = [process.execPath, RANK, JSON.stringify(cfg)];
  const [cmd, ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...node] : node;
  const started = Date.now();
  const child = spawn(cmd, args, {
    env: { ...process.env, NOISYNN_DIST: DIST, OMP_NUM_THREADS: '1', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Outcome>((resolve) =>
    child.on('close', (code, signal) => {
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Line);
      resolve({ code, signal, lines, stderr, ms: Date.now() - started });
    }),
  );
  return { child, done };
}

/** Runs `world` ranks of `cfg` (rank i gets `extra(i)` on top) and waits for all. */
async function runRanks(
  world: number,
  cfg: Record<string, unknown>,
  extra: (rank: number) => Record<string, unknown> = () => ({}),
): Promise<Outcome[]> {
  const masterPort = await freePort();
  return Promise.all(
    Array.from({ length: world }, (_, rank) => startRank({ ...cfg, world, rank, masterPort, ...extra(rank) }).done),
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function expectOk(o: Outcome): void {
  if (o.code !== 0) throw new Error(`rank exited with ${o.code ?? o.signal}: ${JSON.stringify(o.lines)}\n${o.stderr}`);
}

/** The float32 tensors of a safetensors file, by name. */
function readSafetensors(file: string): Map<string, Float32Array> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; data_offsets: [number, number] }
  >;
  const out = new Map<string, Float32Array>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [a, b] = t.data_offsets;
    const bytes = buf.subarray(8 + n + a, 8 + n + b);
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)));
  }
  return out;
}

/** The largest absolute difference between two weight files (same tensor names). */
function weightDiff(fileA: string, fileB: string): number {
  const a = readSafetensors(fileA);
  const b = readSafetensors(fileB);
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  return worst;
}

// Every kind with 'global' scope (the default) must match one process; 'local' optimal must not.
const RUNS = [
  { name: 'none', noise: { kind: 'none' } },
  { name: 'linear', noise: { kind: 'linear', strength: 0.3 } },
  { name: 'linearDetached', noise: { kind: 'linear', strength: 0.4, detach: true } },
  { name: 'optimal', noise: { kind: 'optimal' } },
  { name: 'gaussian', noise: { kind: 'gaussian', strength: 0.5 } },
  { name: 'saltPepper', noise: { kind: 'saltPepper', strength: 0.2 } },
  { name: 'optimalSpatial', noise: { kind: 'optimal', axis: 'spatial' } },
  { name: 'optimalLocal', noise: { kind: 'optimal', scope: 'local' } },
];

describe('2 ranks x batch 4 train as 1 process x batch 8', () => {
  let single: Outcome;
  let ranks: Outcome[];

  beforeAll(async () => {
    const cfg = { scenario: 'train', runs: RUNS, samples: 24 }; // 3 steps of one epoch
    [single, ranks] = await Promise.all([
      startRank({ ...cfg, batch: 8, out: path.join(tmp, 'single') }).done,
      // Rank 1 gets no seeds of its own: it must adopt rank 0's.
      runRanks(2, { ...cfg, batch: 4, out: path.join(tmp, 'ranks') }, (rank) => ({ seedless: rank === 1 })),
    ]);
    expectOk(single);
    ranks.forEach(expectOk);
  });

  test.each(RUNS.filter((r) => r.name !== 'optimalLocal').map((r) => r.name))(
    '%s: equal weights and equal global losses after 3 steps',
    (name) => {
      const diff = weightDiff(
        path.join(tmp, 'single', `${name}.safetensors`),
        path.join(tmp, 'ranks', `${name}.safetensors`),
      );
      expect(diff).toBeLessThan(2e-5);
      const one = single.lines.find((l) => l.event === 'done' && l.name === name)!;
      for (const r of ranks) {
        const d = r.lines.find((l) => l.event === 'done' && l.name === name)!;
        expect(d.worldSize).toBe(2);
        expect(d.losses).toHaveLength(3);
        d.losses!.forEach((loss, i) => expect(loss).toBeCloseTo(one.losses![i], 5));
      }
    },
  );

  test("optimal with scope 'local' mixes each rank's batch only, so it differs", () => {
    const diff = weightDiff(
      path.join(tmp, 'single', 'optimalLocal.safetensors'),
      path.join(tmp, 'ranks', 'optimalLocal.safetensors'),
    );
    expect(diff).toBeGreaterThan(1e-4);
  });

  test("a rank without seeds of its own adopts rank 0's (trainer and noise)", () => {
    const [r0, r1] = ranks.map((r) => r.lines.find((l) => l.event === 'done')!);
    expect(r1.seed).toBe('5');
    expect(r1.noiseSeed).toBe('11');
    expect(r1.seed).toBe(r0.seed);
  });
});

describe('3 ranks on 10 samples', () => {
  test('the round-robin deal: padded to 12 (each sample at least once), or cut to 9 with dropLast; global evaluation', async () => {
    const masterPort = await freePort();
    const outcomes = await Promise.all(
      [0, 1, 2].map(
        (rank) =>
          startRank(
            { scenario: 'shards', samples: 10, rank },
            {
              env: { RANK: String(rank), WORLD_SIZE: '3', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(masterPort) },
            },
          ).done,
      ),
    );
    outcomes.forEach(expectOk);
    type Seen = { indices: number[]; valid: number[]; length: number };
    const done = outcomes.map(
      (o) =>
        o.lines.find((l) => l.event === 'done')! as Line & {
          seen: { padded: Seen; dropLast: Seen };
          evaluation: { samples: number; top1: number; loss: number };
        },
    );
    // Padded: 4 per rank (batches of 3 and 1), 12 in all, every sample seen; the two repeats are
    // the last samples of ranks 1 and 2, marked as not their own (valid).
    const padded = done.map((d) => d.seen.padded);
    padded.forEach((s) => {
      expect(s.length).toBe(2);
      expect(s.indices).toHaveLength(4);
    });
    const all = padded.flatMap((s) => s.indices);
    expect(new Set(all).size).toBe(10);
    expect(padded.map((s) => s.valid)).toEqual([
      [3, 1],
      [3, 0],
      [3, 0],
    ]);
    const own = padded.flatMap((s, r) => s.indices.slice(0, r === 0 ? 4 : 3));
    expect(own.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // dropLast: 3 per rank, one full batch each: 9 distinct samples, each once.
    const dropped = done.map((d) => d.seen.dropLast);
    dropped.forEach((s) => {
      expect(s.length).toBe(1);
      expect(s.indices).toHaveLength(3);
    });
    expect(new Set(dropped.flatMap((s) => s.indices)).size).toBe(9);

    // The sharded evaluation counts every sample once, and equals one process's.
    const images = new Float32Array(10 * 64);
    for (let i = 0; i < images.length; i++) images[i] = Math.sin(i * 0.37) + ((i * 2654435761) % 97) / 97;
    const data = new TensorDataset({
      images,
      shape: [10, 1, 8, 8],
      labels: Array.from({ length: 10 }, (_, i) => i % 4),
    });
    const model = NoisyViT.create({
      imageSize: 8,
      patchSize: 4,
      inChannels: 1,
      numClasses: 4,
      embedDim: 16,
      depth: 2,
      numHeads: 2,
      initSeed: 7,
      noise: { kind: 'optimal', when: 'train', seed: 11 },
    });
    const reference = await new Trainer(model, { seed: 5 }).evaluate(
      new DataLoader(data, { batchSize: 10, numWorkers: 0 }),
    );
    for (const d of done) {
      expect(d.evaluation.samples).toBe(10);
      expect(d.evaluation.top1).toBeCloseTo(reference.top1, 10);
      expect(d.evaluation.loss).toBeCloseTo(reference.loss, 5);
    }
  });
});

describe('two hosts in two network namespaces', () => {
  const id = `${process.pid % 10000}`;
  const [nsA, nsB] = [`nn-a-${id}`, `nn-b-${id}`];
  let skip = '';

  beforeAll(() => {
    const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    const steps = [
      `ip netns add ${nsA}`,
      `ip netns add ${nsB}`,
      `ip link add va-${id} type veth peer name vb-${id}`,
      `ip link set va-${id} netns ${nsA}`,
      `ip link set vb-${id} netns ${nsB}`,
      `ip -n ${nsA} addr add 10.77.0.1/24 dev va-${id}`,
      `ip -n ${nsB} addr add 10.77.0.2/24 dev vb-${id}`,
      `ip -n ${nsA} link set va-${id} up`,
      `ip -n ${nsB} link set vb-${id} up`,
      `ip -n ${nsA} link set lo up`,
      `ip -n ${nsB} link set lo up`,
    ];
    for (const step of steps) {
      const r = sh(step);
      if (r.status !== 0) {
        skip = `'${step}' failed: ${(r.stderr || r.error?.message || '').trim()}`;
        return;
      }
    }
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', nsA]);
    spawnSync('ip', ['netns', 'del', nsB]);
  });

  test('rank 0 at 10.77.0.1 and rank 1 at 10.77.0.2 train over the veth pair, as one process would', async () => {
    if (skip) {
      console.log(`skipped: network namespaces are not available here (${skip})`);
      return;
    }
    const cfg = { scenario: 'train', runs: [RUNS[3]], samples: 16, batch: 4, world: 2, masterAddr: '10.77.0.1' };
    const rx = () =>
      Number(
        spawnSync('ip', ['netns', 'exec', nsB, 'cat', `/sys/class/net/vb-${id}/statistics/rx_bytes`], {
          encoding: 'utf8',
        }).stdout,
      );
    const before = rx();
    const masterPort = 29511;
    const outcomes = await Promise.all([
      startRank({ ...cfg, rank: 0, masterPort, out: path.join(tmp, 'netns') }, { netns: nsA }).done,
      startRank({ ...cfg, rank: 1, masterPort }, { netns: nsB }).done,
    ]);
    outcomes.forEach(expectOk);
    // The gradients crossed the veth pair (rank 1 cannot reach rank 0 any other way).
    expect(rx() - before).toBeGreaterThan(10_000);
    const single = await runSingle([RUNS[3]], 16, 8, path.join(tmp, 'netns-single'));
    expect(
      weightDiff(path.join(tmp, 'netns', 'optimal.safetensors'), path.join(tmp, 'netns-single', 'optimal.safetensors')),
    ).toBeLessThan(2e-5);
    expect(single.code).toBe(0);
  });
});

function runSingle(runs: unknown[], samples: number, batch: number, out: string, extra = {}): Promise<Outcome> {
  return startRank({ scenario: 'train', runs, samples, batch, out, ...extra }).done;
}

describe('faults', () => {
  test('kill -9 of rank 1 mid-epoch: rank 0 fails within the timeout naming rank 1; both resume exactly', async () => {
    const ckpt = path.join(tmp, 'ckpt');
    const cfg = {
      scenario: 'train',
      runs: [RUNS[3]],
      samples: 32,
      batch: 4,
      epochs: 3,
      checkpointDir: ckpt,
      timeoutMs: 4000,
    };
    const killed = await runRanks(2, { ...cfg, out: path.join(tmp, 'killed') }, () => ({
      dieAt: { rank: 1, epoch: 2, step: 2 },
    }));
    expect(killed[1].signal).toBe('SIGKILL');
    const failure = killed[0].lines.find((l) => l.event === 'error')!;
    expect(killed[0].code).toBe(3);
    expect(failure.message).toMatch(/^distributed: rank 0 of 2: .* failed: rank 1 /);
    const dying = killed[1].lines.find((l) => l.event === 'dying')!;
    expect((failure.t as number) - (dying.t as number)).toBeLessThan(4000 + 2000);
    expect(killed[0].lines.filter((l) => l.event === 'epoch')).toHaveLength(1); // epoch 1 was checkpointed

    const resumed = await runRanks(2, { ...cfg, out: path.join(tmp, 'resumed') });
    resumed.forEach(expectOk);
    expect(resumed.map((r) => r.lines.find((l) => l.event === 'done')!.resumedFrom)).toEqual([1, 1]);
    const straight = await runSingle([RUNS[3]], 32, 8, path.join(tmp, 'straight'), { epochs: 3 });
    expectOk(straight);
    expect(
      weightDiff(path.join(tmp, 'resumed', 'optimal.safetensors'), path.join(tmp, 'straight', 'optimal.safetensors')),
    ).toBeLessThan(2e-5);
  });

  test('a rank that hangs: the other fails after the timeout, naming it', async () => {
    const masterPort = await freePort();
    const cfg = { scenario: 'train', runs: [RUNS[3]], samples: 32, batch: 4, world: 2, masterPort, timeoutMs: 3000 };
    const r0 = startRank({ ...cfg, rank: 0 });
    const r1 = startRank({ ...cfg, rank: 1, hangAt: { rank: 1, epoch: 1, step: 2 } });
    const first = await r0.done;
    r1.child.kill('SIGKILL');
    const hung = await r1.done;
    const hanging = hung.lines.find((l) => l.event === 'hanging')!;
    const failure = first.lines.find((l) => l.event === 'error')!;
    expect(first.code).toBe(3);
    expect(failure.message).toMatch(/^distributed: rank 0 of 2: .* failed: rank 1 stopped responding/);
    const waited = (failure.t as number) - (hanging.t as number);
    expect(waited).toBeGreaterThan(2500);
    expect(waited).toBeLessThan(3000 + 3000);
  });

  test('mismatched models or world sizes fail at the start on every rank, naming both sides', async () => {
    const models = await runRanks(2, { scenario: 'join' }, (rank) => ({
      modelOverrides: { embedDim: rank === 0 ? 16 : 32 },
    }));
    for (const o of models) {
      expect(o.code).toBe(3);
      expect(o.lines[0].message).toMatch(
        /the ranks disagree on the model \(its parameter and buffer names, shapes and dtypes\): rank 1 has \d+ tensors of \d+ values .*, rank 0 has/,
      );
    }
    const masterPort = await freePort();
    const sizes = await Promise.all([
      startRank({ scenario: 'join', rank: 0, world: 2, masterPort, timeoutMs: 3000 }).done,
      startRank({ scenario: 'join', rank: 1, world: 3, masterPort, timeoutMs: 3000 }).done,
    ]);
    for (const o of sizes) {
      expect(o.code).toBe(3);
      expect(o.lines[0].message).toMatch(/rank 1( of 3)? was started with worldSize 3, .*but rank 0 with worldSize 2/);
    }
  });

  test('a port in use, an unreachable master and bad options give clear errors', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, resolve));
    const busy = (server.address() as net.AddressInfo).port;
    const model = NoisyViT.create({
      imageSize: 8,
      patchSize: 4,
      inChannels: 1,
      numClasses: 4,
      embedDim: 16,
      depth: 1,
      numHeads: 2,
    });
    const loader = new DataLoader(
      new TensorDataset({ images: new Uint8Array(4 * 64), shape: [4, 1, 8, 8], labels: [0, 1, 2, 3] }),
      { batchSize: 2, numWorkers: 0 },
    );
    const inUse = new Trainer(model, {
      distributed: { rank: 0, worldSize: 2, masterAddr: '127.0.0.1', masterPort: busy },
    });
    await expect(inUse.evaluate(loader)).rejects.toThrow(
      `distributed: rank 0 cannot host the rendezvous: port ${busy} is already in use on this host`,
    );
    server.close();
    const nobody = await freePort();
    const started = Date.now();
    const lonely = new Trainer(model, {
      distributed: { rank: 1, worldSize: 2, masterAddr: '127.0.0.1', masterPort: nobody, timeoutMs: 1500 },
    });
    await expect(lonely.evaluate(loader)).rejects.toThrow(
      `distributed: rank 1 of 2 could not reach the master at 127.0.0.1:${nobody} within 1.5 s`,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    const bad = (distributed: unknown) => () => new Trainer(model, { distributed } as never);
    expect(bad({ rank: 2, worldSize: 2, masterAddr: 'h', masterPort: 1 })).toThrow(
      new RangeError('Expected integer between 0 and 1 for distributed.rank but received 2 (number)'),
    );
    expect(bad({ rank: 0, worldSize: 2, masterAddr: 'h', masterPort: 70000 })).toThrow(
      new RangeError('Expected integer between 1 and 65535 for distributed.masterPort but received 70000 (number)'),
    );
    expect(bad('torchrun')).toThrow(TypeError);
    expect(bad({ rank: 0, worldSize: 1, masterAddr: 'h', masterPort: 1, backend: 'mpi' })).toThrow(
      "Expected one of 'gloo', 'nccl' for distributed.backend but received 'mpi' (string)",
    );
    const env = { ...process.env };
    try {
      delete process.env.MASTER_PORT;
      Object.assign(process.env, { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1' });
      expect(bad('env')).toThrow(
        "distributed: 'env' needs the environment variable MASTER_PORT (torchrun's launch contract: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)",
      );
    } finally {
      process.env = env;
    }
    expect(() =>
      NoisyViT.create({
        imageSize: 8,
        patchSize: 4,
        embedDim: 16,
        depth: 1,
        numHeads: 2,
        noise: { kind: 'optimal', scope: 'world' },
      } as never),
    ).toThrow(new RangeError("Expected one of 'local', 'global' for noise.scope but received 'world' (string)"));
    expect(() => new DataLoader(loader.dataset, { shard: { rank: 3, worldSize: 3 } })).toThrow(
      new RangeError('Expected integer between 0 and 2 for shard.rank but received 3 (number)'),
    );
    model.dispose();
  });
});

describe('noisynn train --nproc-per-node 2', () => {
  test('trains on two ranks; only rank 0 prints and writes the run folder', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const runDir = path.join(tmp, 'cli-run');
    const port = await freePort();
    const argv = [
      'train',
      '--nproc-per-node',
      '2',
      '--master-port',
      String(port),
      '--epochs',
      '1',
      '--train-samples',
      '256',
      '--test-samples',
      '128',
      '--batch-size',
      '32',
      '--workers',
      '1',
      '--out',
      runDir,
    ];
    const status = await main(argv, {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s), isTTY: false },
      cwd: tmp,
    });
    const stdout = out.join('');
    const stderr = err.join('');
    expect({ status, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, stderr: '' });
    expect(stdout.match(/^test top-1 /gm)).toHaveLength(1);
    expect(stdout).toMatch(/^test top-1 \d+\.\d\d% · top-5 \d+\.\d\d% · loss \d\.\d{4} · 128 images/m);
    expect(stdout + stderr).not.toContain('[rank 1]');
    expect(stderr.match(/^epoch 1\/1 /gm)).toHaveLength(1);
    for (const f of [
      'config.json',
      'metrics.jsonl',
      'model.safetensors',
      'results.json',
      'report.html',
      'curves.svg',
    ]) {
      expect(fs.existsSync(path.join(runDir, f))).toBe(true);
    }
    const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { ranks: number };
    expect(config.ranks).toBe(2);
    const steps = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"type":"step"'));
    expect(steps).toHaveLength(4); // 256 samples, 2 ranks x 32 per step
  });
});
