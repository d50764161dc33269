// runComparison and `noisynn compare`, shrunk to seconds: results, run folder, abort and resume,
// the data helpers, and bad options.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../lib/cli';
import { ComparisonResult, formatComparisonTable, runComparison } from '../lib/compare';
import { OFFICIAL_PROTOCOLS } from '../lib/defaults';
import { info } from '../lib/info';
import { studentTQuantile } from '../lib/statistics';
import { FashionMNIST, permutation, randomSubset, TensorDataset } from '../lib/datasets';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-compare-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function cli(argv: string[], signal?: AbortSignal, onStderr?: (s: string) => void) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => (err.push(s), onStderr?.(s)), isTTY: false },
    cwd: tmp,
    signal,
  });
  return { status, stdout: out.join(''), stderr: err.join('') };
}

// The smallest job that still exercises everything: 2 kinds x 2 seeds, 4 steps each.
const TINY = {
  kinds: ['none', 'optimal'] as const,
  seeds: [1, 2],
  epochs: 1,
  trainSamples: 256,
  testSamples: 192,
  batchSize: 64,
  auditSamples: 64,
};
const TINY_FLAGS = [
  '--kinds',
  'none,optimal',
  '--train-samples',
  '256',
  '--test-samples',
  '192',
  '--batch-size',
  '64',
  '--audit-samples',
  '64',
];

describe('runComparison', () => {
  let result: ComparisonResult;
  let metricsLog: string;
  const events = { runStarts: 0, steps: 0, epochs: 0, runEnds: 0, messages: [] as string[] };

  beforeAll(async () => {
    metricsLog = path.join(tmp, 'lib', 'metrics.jsonl');
    result = await runComparison({
      ...TINY,
      kinds: [...TINY.kinds],
      metricsLog,
      checkpointDir: path.join(tmp, 'lib', 'checkpoints'),
      keepCheckpoints: true,
      onRunStart: () => events.runStarts++,
      onStep: () => events.steps++,
      onEpoch: () => events.epochs++,
      onRunEnd: () => events.runEnds++,
      onMessage: (m) => events.messages.push(m),
    });
  });

  test('trains every kind for every seed and scores each leak-free, with its noise shuffled and class-sorted', () => {
    expect(result.aborted).toBe(false);
    expect(result.runs.map((r) => `${r.kind}/${r.seed}`)).toEqual(['none/1', 'optimal/1', 'none/2', 'optimal/2']);
    for (const r of result.runs) {
      expect(r.leakFree.samples).toBe(192);
      expect(r.noiseShuffled.samples).toBe(192);
      expect(r.official.samples).toBe(192);
      expect(r.epochs).toBe(1);
      expect(r.history).toHaveLength(1);
    }
    expect(events).toMatchObject({ runStarts: 4, steps: 16, epochs: 4, runEnds: 4 });
    expect(result.config).toMatchObject({
      dataset: 'Fashion-MNIST',
      model: 'vit_mini_patch7_28', // the comparison's own default on 28x28 images (COMPARISON_MODELS)
      parameters: 205066,
      trainSamples: 256,
      testSamples: 192,
      auditSamples: 64,
      normalize: 'fashion-mnist',
    });
  });

  test("the ViT's official protocol decides the noisy passes and the audit: class-sorted batches of 10, noise at evaluation only", () => {
    expect(result.config.protocol).toEqual({ family: 'vit', ...OFFICIAL_PROTOCOLS.vit });
    expect(result.config.protocol.evalBatchSize).toBe(10);
    expect(result.config.evalBatchSize).toBe(64); // the leak-free batches are a separate, shuffled setting
    expect(result.config.noise).toMatchObject({
      officialWhen: 'eval',
      detach: false,
      layer: 3,
      strengths: { linear: 0.3, gaussian: 0.1, saltPepper: 0.1 },
    });
    expect(result.config.noise.siteNote).toBeUndefined();
    for (const a of result.audits) expect(a.batchSize).toBe(10);
  });

  test('without noise at evaluation every protocol agrees exactly (the ViT has no batch statistics)', () => {
    for (const r of result.runs.filter((x) => x.kind === 'none')) {
      expect(r.official.top1).toBe(r.leakFree.top1);
      expect(r.noiseShuffled.top1).toBe(r.leakFree.top1);
    }
  });

  test("models trained without noise are also scored with the 'official' preset, in a row of their own", () => {
    for (const r of result.runs) expect(r.officialPreset === undefined).toBe(r.kind !== 'none');
    const row = result.summary.find((s) => s.label === 'none → optimal');
    expect(row).toMatchObject({ kind: 'none', evalKind: 'optimal' });
    const none = result.runs.filter((r) => r.kind === 'none');
    expect(row?.official.values).toEqual(none.map((r) => r.officialPreset?.top1));
    expect(row?.noiseShuffled.values).toEqual(none.map((r) => r.officialPresetShuffled?.top1));
    expect(row?.leakFree).toEqual(result.summary[0].leakFree);
  });

  test('the summary holds means with t intervals over seeds, the leak, and the paired effect against none', () => {
    expect(result.summary.map((s) => s.label)).toEqual(['none', 'none → optimal', 'optimal']);
    for (const s of result.summary.filter((x) => x.label === x.kind)) {
      const mine = result.runs.filter((r) => r.kind === s.kind);
      const values = mine.map((r) => r.leakFree.top1);
      expect(s.leakFree.values).toEqual(values);
      expect(s.leakFree.mean).toBeCloseTo((values[0] + values[1]) / 2, 12);
      expect(s.leakFree.std).toBeCloseTo(Math.abs(values[0] - values[1]) / Math.SQRT2, 12);
      expect(s.leakFree.halfWidth).toBeCloseTo((studentTQuantile(0.975, 1) * s.leakFree.std) / Math.SQRT2, 12);
      expect(s.leak.values).toEqual(mine.map((r) => r.official.top1 - r.noiseShuffled.top1));
      expect(s.gap).toBeCloseTo(s.official.mean - s.leakFree.mean, 12);
    }
    const none = result.runs.filter((r) => r.kind === 'none');
    const optimal = result.runs.filter((r) => r.kind === 'optimal');
    const effect = result.summary.find((s) => s.label === 'optimal')?.effect;
    const d = optimal.map((r, i) => r.leakFree.top1 - none[i].leakFree.top1);
    expect(effect).toMatchObject({ seeds: [1, 2], n: 2 });
    expect(effect?.mean).toBeCloseTo((d[0] + d[1]) / 2, 12);
    expect(effect?.pHolm).toBe(effect?.pValue); // one kind compared: Holm changes nothing
    expect(['helps', 'hurts', 'none detectable']).toContain(effect?.verdict);
    expect(result.summary[0].effect).toBeUndefined();
    expect(result.summary[0].audit).toMatchObject({ audited: 2, leaks: 0 });
  });

  test("every run's model is audited with the official protocol's noise at evaluation", () => {
    expect(result.audits.map((a) => [a.label, a.evalKind, a.seed, a.samples])).toEqual([
      ['none', 'none', 1, 64],
      ['none → optimal', 'optimal', 1, 64],
      ['optimal', 'optimal', 1, 64],
      ['none', 'none', 2, 64],
      ['none → optimal', 'optimal', 2, 64],
      ['optimal', 'optimal', 2, 64],
    ]);
    expect(result.audits[0].leakSuspected).toBe(false); // no evaluation noise: nothing can leak
    expect(result.audits[0].leak).toMatchObject({ b: 0, c: 0, method: 'exact', pValue: 1 });
    expect(events.messages).toContain(
      'auditing optimal (seed 1) with optimal noise at evaluation on 64 test images...',
    );
    expect(events.messages).toContain('auditing none (seed 1) with no noise at evaluation on 64 test images...');
  });

  test('metrics are tagged with kind and seed; checkpoints are kept per run', () => {
    const records = fs
      .readFileSync(metricsLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; kind: string; seed: number });
    expect(records.filter((r) => r.type === 'step' && r.kind === 'optimal' && r.seed === 2)).toHaveLength(4);
    expect(records.filter((r) => r.type === 'run')).toHaveLength(4);
    expect(records.filter((r) => r.type === 'audit')).toHaveLength(6);
    expect(fs.readdirSync(path.join(tmp, 'lib', 'checkpoints')).sort()).toEqual([
      'none-seed1',
      'none-seed2',
      'optimal-seed1',
      'optimal-seed2',
    ]);
  });

  test('bad options are refused before any training, naming the option', async () => {
    await expect(runComparison({ kinds: [] })).rejects.toThrow(
      'Expected non-empty array for kinds but received an array of length 0',
    );
    await expect(runComparison({ kinds: ['none', 'pink' as 'none'] })).rejects.toThrow(
      "Expected one of 'none', 'linear', 'optimal', 'gaussian', 'saltPepper' for kinds[1] but received 'pink' (string)",
    );
    await expect(runComparison({ seeds: [1, 1] })).rejects.toThrow(
      'Expected seeds without repeats but received [1, 1]',
    );
    await expect(runComparison({ seeds: [-1] })).rejects.toThrow(
      'Expected integer between 0 and 4294967295 for seeds[0] but received -1 (number)',
    );
    await expect(runComparison({ epochs: 0 })).rejects.toThrow(
      'Expected positive integer for epochs but received 0 (number)',
    );
    await expect(runComparison({ strengths: { saltPepper: 2 } })).rejects.toThrow(
      'Expected number between 0 and 1 for strengths.saltPepper but received 2 (number)',
    );
    await expect(runComparison({ strengths: { pink: 1 } as never })).rejects.toThrow(
      "Unknown option 'pink' in strengths",
    );
    await expect(runComparison({ epoch: 1 } as never)).rejects.toThrow("Unknown option 'epoch' in options");
    await expect(runComparison({ train: 'fashion' as never })).rejects.toThrow(
      "Expected Dataset for train but received 'fashion' (string)",
    );
    await expect(runComparison({ warmupSteps: -1 })).rejects.toThrow(
      'Expected non-negative integer for warmupSteps but received -1 (number)',
    );
    await expect(runComparison({ family: 'cnn', model: 'vit_mini_patch4_28' })).rejects.toThrow(
      "model vit_mini_patch4_28 is a vit model but family is 'cnn'",
    );
    await expect(runComparison({ model: 'resnet18', trainSamples: 64 })).rejects.toThrow(
      "Model resnet18 takes 3-channel images but the dataset's have 1 channel (shape [1, 28, 28])",
    );
    const rgb = new TensorDataset({ images: new Uint8Array(2 * 3 * 20 * 20), shape: [2, 3, 20, 20], labels: [0, 1] });
    await expect(runComparison({ train: rgb, test: rgb })).rejects.toThrow(
      'No default vit model for images of shape [3, 20, 20]; pass model',
    );
  });

  test("--family cnn: the CNN's own official protocol (noise always, detached, linear 0.4, batches of 512)", async () => {
    const cnn = await runComparison({
      family: 'cnn',
      kinds: ['none', 'linear'],
      seeds: [1],
      epochs: 1,
      trainSamples: 64,
      testSamples: 64,
      batchSize: 32,
      audit: false,
    });
    expect(cnn.config.model).toBe('resnet18_small_28');
    expect(cnn.config.protocol).toEqual({ family: 'cnn', ...OFFICIAL_PROTOCOLS.cnn });
    expect(cnn.config.protocol).toMatchObject({ evalBatchSize: 512, noiseWhen: 'always', detach: true });
    expect(cnn.config.noise).toMatchObject({
      officialWhen: 'always',
      detach: true,
      strengths: { linear: 0.4 },
      layer: { stage: 4, block: 1 }, // ResNet-18 has no block 2 in layer4: its last block, said so
    });
    expect(cnn.config.noise.siteNote).toContain("resnet18_small_28's layer4 has 2 blocks and no block index 2");
    expect(formatComparisonTable(cnn)).toContain('test batches of 512');
    expect(formatComparisonTable(cnn)).toContain('site: resnet18_small_28');
  });

  test('jobs: runs train side by side, each on its share of the threads, in queue order, with the same results', async () => {
    // The shared result above ran with the default jobs (one per libtorch thread on CPU).
    const threads = info().threads;
    expect(result.config.jobs).toBe(Math.min(threads, 4));
    expect(result.config.threadsPerJob).toBe(Math.max(1, Math.floor(threads / result.config.jobs)));
    const one = await runComparison({ ...TINY, kinds: [...TINY.kinds], jobs: 1 });
    expect(one.config).toMatchObject({ jobs: 1, threadsPerJob: threads });
    const three = await runComparison({ ...TINY, kinds: [...TINY.kinds], jobs: 3 });
    expect(three.config.jobs).toBe(3);
    const scores = (r: ComparisonResult) => r.runs.map((x) => [x.trainLoss, x.leakFree.top1, x.official.top1]);
    for (const r of [one, three]) {
      expect(r.runs.map((x) => `${x.kind}/${x.seed}`)).toEqual(['none/1', 'optimal/1', 'none/2', 'optimal/2']);
      if (r.config.threadsPerJob === result.config.threadsPerJob) {
        // Same threads a run: the same numbers, whatever ran beside it.
        expect(scores(r)).toEqual(scores(result));
      } else {
        // Another thread count may round differently (PyTorch 2.15's kernels do in the last digits).
        r.runs.forEach((x, i) => expect(x.trainLoss).toBeCloseTo(result.runs[i].trainLoss, 3));
      }
    }
    await expect(runComparison({ ...TINY, kinds: [...TINY.kinds], jobs: 0 })).rejects.toThrow(
      new RangeError('Expected integer between 1 and 64 for jobs but received 0 (number)'),
    );
    await expect(runComparison({ ...TINY, kinds: [...TINY.kinds], jobs: '2' as never })).rejects.toThrow(
      new TypeError("Expected integer for jobs but received '2' (string)"),
    );
  });

  test('an abort with two runs in flight stops both after their current step; finished runs are kept', async () => {
    const controller = new AbortController();
    const stepped = new Set<string>();
    const r = await runComparison({
      ...TINY,
      kinds: [...TINY.kinds],
      trainSamples: 1024, // 16 steps a run
      jobs: 2,
      audit: false,
      signal: controller.signal,
      onStep: (run) => {
        stepped.add(`${run.kind}/${run.seed}`);
        if (stepped.size === 2) controller.abort();
      },
    });
    expect(r.aborted).toBe(true);
    expect(r.runs).toEqual([]); // both were mid-training
    expect([...stepped].sort()).toEqual(['none/1', 'optimal/1']);
    // Aborted before it starts: nothing trains.
    let steps = 0;
    const none = await runComparison({
      ...TINY,
      kinds: [...TINY.kinds],
      signal: AbortSignal.abort(),
      onStep: () => steps++,
    });
    expect([none.aborted, none.runs.length, steps]).toEqual([true, 0, 0]);
  });

  test('a metricsLog that cannot be appended to rejects, naming it', async () => {
    const tiny = { ...TINY, kinds: ['none' as const], seeds: [1], audit: false };
    await expect(runComparison({ ...tiny, metricsLog: tmp })).rejects.toThrow(
      `Cannot open metricsLog ${tmp} for appending: EISDIR`,
    );
    // Refused at the open, or (as root) at the first step's record.
    await expect(runComparison({ ...tiny, metricsLog: '/proc/version' })).rejects.toThrow(
      /^Cannot (open|write) metricsLog \/proc\/version\b/,
    );
  });
});

describe('data helpers', () => {
  test('permutation is a seeded shuffle of 0..n-1', () => {
    const p = permutation(1000, 7);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect([...permutation(1000, 7)]).toEqual([...p]);
    expect([...permutation(1000, 8)]).not.toEqual([...p]);
  });

  test('randomSubset copies the chosen images and labels', async () => {
    const full = new TensorDataset({
      images: Uint8Array.from({ length: 50 * 4 }, (_, i) => Math.floor(i / 4)),
      shape: [50, 1, 2, 2],
      labels: Array.from({ length: 50 }, (_, i) => i % 5),
    });
    const sub = await randomSubset(full, 10, 3);
    expect(sub.length).toBe(10);
    expect(sub.classes).toEqual(full.classes);
    const order = permutation(50, 3);
    for (let i = 0; i < 10; i++) {
      const s = await sub.get(i);
      expect(Array.from(s.image.toTypedArray() as Uint8Array)).toEqual([order[i], order[i], order[i], order[i]]);
      expect(s.label).toBe(order[i] % 5);
    }
    expect(await randomSubset(full, 0, 1)).toBe(full);
    expect(await randomSubset(full, 50, 1)).toBe(full);
    expect(new FashionMNIST({ split: 'test' }).length).toBe(10000);
  });
});

describe('noisynn compare', () => {
  test('--quick shrunk to a tiny subset prints the table and writes the run folder', async () => {
    const out = path.join(tmp, 'quick');
    const r = await cli(['compare', '--quick', ...TINY_FLAGS, '--out', out]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      'Fashion-MNIST · vit_mini_patch7_28 (205,066 parameters) · 2 seeds × 1 epoch on 256 training images · 192 test images',
    );
    // The question first: leak-free top-1 and each kind's paired, Holm-corrected effect against none.
    expect(r.stdout).toMatch(/^none\s+\d+\.\d\d ± \d+\.\d\d\s+\(reference\)$/m);
    expect(r.stdout).toMatch(
      /^optimal\s+\d+\.\d\d ± \d+\.\d\d\s+[+−]\d+\.\d\d ± \d+\.\d\d\s+(<0\.001|\d\.\d{3})\s+(helps|hurts|no effect detectable above \d+\.\d\d points)$/m,
    );
    // Then the protocols: leak-free, eval noise on shuffled and class-sorted batches, the leak, the audits.
    const cells = '(\\d+\\.\\d\\d ± \\d+\\.\\d\\d\\s+){3}';
    expect(r.stdout).toMatch(new RegExp(`^none\\s+${cells}\\+0\\.00 ± 0\\.00\\s+no leak 0/2$`, 'm'));
    expect(r.stdout).toMatch(
      new RegExp(`^none → optimal\\s+${cells}[+−]\\d+\\.\\d\\d ± \\d+\\.\\d\\d\\s+(no leak|leak) \\d/2$`, 'm'),
    );
    expect(r.stdout).toContain('What noise at evaluation and the official protocol add (test batches of 10)');
    expect(r.stdout).toContain('run folder: quick (report.html, table.md, results.json, curves.svg)');
    // Off a TTY: a line per finished run, no bars.
    expect(r.stderr).toMatch(
      /^\[1\/4\] none seed 1: leak-free \d+\.\d\d% · official \d+\.\d\d% · train loss \d\.\d{3} · \d+:\d\d$/m,
    );
    expect(r.stderr).not.toContain('\r');
    for (const f of ['table.md', 'results.json', 'config.json', 'metrics.jsonl', 'curves.svg', 'report.html'])
      expect(fs.existsSync(path.join(out, f))).toBe(true);
    expect(fs.existsSync(path.join(out, 'checkpoints'))).toBe(false); // finished runs' checkpoints are removed
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as ComparisonResult;
    expect(results.config.seeds).toEqual([1, 2]); // --quick: two seeds
    expect(results.runs).toHaveLength(4);
    const md = fs.readFileSync(path.join(out, 'table.md'), 'utf8');
    expect(md).toContain('| noise | leak-free top-1 % | Δ vs none, points | p (Holm) | verdict |');
    expect(md).toContain(
      '| noise (train → eval) | leak-free % | eval noise, shuffled % | official, sorted % | leak, points | leak audit |',
    );
    const svg = fs.readFileSync(path.join(out, 'curves.svg'), 'utf8');
    expect(svg).toContain('data-series="none"');
    expect(svg).toContain('data-series="optimal"');
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('Leakage audit');
  });

  test('Ctrl-C (abort) writes the partial results and exits 130; --resume finishes the job', async () => {
    const out = path.join(tmp, 'interrupted');
    const controller = new AbortController();
    // Abort once the first run has finished (one job, so the second has just started): the first
    // run's results are kept.
    const r = await cli(
      ['compare', ...TINY_FLAGS, '--seeds', '1', '--epochs', '1', '--no-audit', '--jobs', '1', '--out', out],
      controller.signal,
      (s) => {
        if (s.startsWith('[1/2] none seed 1: ')) controller.abort();
      },
    );
    expect(r.status).toBe(130);
    expect(r.stderr).toContain(
      `interrupted: 1 of 2 runs finished; continue with: noisynn compare --resume interrupted`,
    );
    const partial = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as ComparisonResult;
    expect(partial.aborted).toBe(true);
    expect(partial.runs.map((x) => x.kind)).toEqual(['none']);

    const resumed = await cli(['compare', '--resume', out]);
    expect(resumed.status).toBe(0);
    expect(resumed.stderr).toMatch(/^\[1\/2\] none seed 1 \(from the interrupted job\): leak-free/m);
    expect(fs.existsSync(path.join(out, 'checkpoints'))).toBe(false); // each run's folder goes once its results are logged
    const done = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as ComparisonResult;
    expect(done.aborted).toBe(false);
    expect(done.runs.map((x) => x.kind)).toEqual(['none', 'optimal']);
    // The finished run was restored from its checkpoint, not retrained: same score.
    expect(done.runs[0]).toEqual(partial.runs[0]);
    expect(done.config).toMatchObject({ trainSamples: 256, seeds: [1], audit: false });
  });

  test('--json prints the results instead of the table', async () => {
    const r = await cli([
      'compare',
      ...TINY_FLAGS,
      '--kinds',
      'none',
      '--seeds',
      '1',
      '--epochs',
      '1',
      '--no-audit',
      '--json',
      '-q',
      '--out',
      path.join(tmp, 'json'),
    ]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const j = JSON.parse(r.stdout) as ComparisonResult & { runFolder: string };
    expect(j.summary.map((s) => s.label)).toEqual(['none', 'none → optimal']);
    expect(j.runFolder).toBe(path.join(tmp, 'json'));
  });
});
