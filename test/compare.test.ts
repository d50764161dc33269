// runComparison and `noisynn compare`, shrunk to seconds: results, run folder, abort and resume,
// the data helpers, and bad options.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../lib/cli';
import { ComparisonResult, runComparison } from '../lib/compare';
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

  test('trains every kind for every seed and scores each under both protocols', () => {
    expect(result.aborted).toBe(false);
    expect(result.runs.map((r) => `${r.kind}/${r.seed}`)).toEqual(['none/1', 'optimal/1', 'none/2', 'optimal/2']);
    for (const r of result.runs) {
      expect(r.leakFree.samples).toBe(192);
      expect(r.official.samples).toBe(192);
      expect(r.epochs).toBe(1);
      expect(r.history).toHaveLength(1);
    }
    expect(events).toMatchObject({ runStarts: 4, steps: 16, epochs: 4, runEnds: 4 });
    expect(result.config).toMatchObject({
      dataset: 'Fashion-MNIST',
      model: 'vit_mini_patch4_28',
      parameters: 205066,
      trainSamples: 256,
      testSamples: 192,
      auditSamples: 64,
      normalize: 'fashion-mnist',
    });
  });

  test('without noise at evaluation the two protocols agree exactly (the ViT has no batch statistics)', () => {
    for (const r of result.runs.filter((x) => x.kind === 'none')) expect(r.official.top1).toBe(r.leakFree.top1);
  });

  test("models trained without noise are also scored with the 'official' preset, in a row of their own", () => {
    for (const r of result.runs) expect(r.officialPreset === undefined).toBe(r.kind !== 'none');
    const row = result.summary.find((s) => s.label === 'none → optimal');
    expect(row).toMatchObject({ kind: 'none', evalKind: 'optimal' });
    expect(row?.official.values).toEqual(
      result.runs.filter((r) => r.kind === 'none').map((r) => r.officialPreset?.top1),
    );
    expect(row?.leakFree).toEqual(result.summary[0].leakFree);
  });

  test('the summary holds mean and sample std over seeds per kind', () => {
    expect(result.summary.map((s) => s.label)).toEqual(['none', 'none → optimal', 'optimal']);
    for (const s of result.summary.filter((x) => x.label === x.kind)) {
      const values = result.runs.filter((r) => r.kind === s.kind).map((r) => r.leakFree.top1);
      expect(s.leakFree.values).toEqual(values);
      expect(s.leakFree.mean).toBeCloseTo((values[0] + values[1]) / 2, 12);
      expect(s.leakFree.std).toBeCloseTo(Math.abs(values[0] - values[1]) / Math.SQRT2, 12);
      expect(s.gap).toBeCloseTo(s.official.mean - s.leakFree.mean, 12);
    }
  });

  test("each kind's first-seed model is audited with the official protocol's noise at evaluation", () => {
    expect(result.audits.map((a) => [a.label, a.evalKind, a.seed, a.samples])).toEqual([
      ['none', 'none', 1, 64],
      ['none → optimal', 'optimal', 1, 64],
      ['optimal', 'optimal', 1, 64],
    ]);
    expect(result.audits[0].leakSuspected).toBe(false); // no evaluation noise: nothing can leak
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
    expect(records.filter((r) => r.type === 'audit')).toHaveLength(3);
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
      'Fashion-MNIST · vit_mini_patch4_28 (205,066 parameters) · 2 seeds × 1 epoch on 256 training images · 192 test images',
    );
    expect(r.stdout).toMatch(/^none\s+\d+\.\d\d ± \d+\.\d\d\s+\d+\.\d\d ± \d+\.\d\d\s+\+0\.00\s+pass$/m);
    // Each row's verdict is its audit's (results.json), and its figures are the summary's.
    const written = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')) as ComparisonResult;
    for (const row of written.summary) {
      const audit = written.audits.find((a) => a.label === row.label)!;
      const verdict = audit.leakSuspected ? 'LEAK' : 'pass';
      expect(audit.leakSuspected).toBe(audit.tests.some((t) => t.significant));
      // Without noise at evaluation a prediction cannot depend on the batch: the three agree.
      if (row.evalKind === 'none') {
        expect(verdict).toBe('pass');
        expect(audit.tests.map((t) => t.b + t.c)).toEqual([0, 0, 0]);
      }
      const pct = (x: number) => (100 * x).toFixed(2);
      const gap = (row.gap >= 0 ? '+' : '−') + pct(Math.abs(row.gap));
      const line = r.stdout.split('\n').find((l) => l.startsWith(row.label + ' '))!;
      expect(line.split(/\s{2,}/)).toEqual([
        row.label,
        `${pct(row.leakFree.mean)} ± ${pct(row.leakFree.std)}`,
        `${pct(row.official.mean)} ± ${pct(row.official.std)}`,
        gap,
        verdict,
      ]);
    }
    expect(written.summary.map((row) => row.label)).toEqual(['none', 'none → optimal', 'optimal']);
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
    expect(fs.readFileSync(path.join(out, 'table.md'), 'utf8')).toContain(
      '| noise | leak-free top-1 % | official top-1 % |',
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
    // Abort once the second run has started: the first run's results are kept.
    const r = await cli(
      ['compare', ...TINY_FLAGS, '--seeds', '1', '--epochs', '1', '--no-audit', '--out', out],
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
