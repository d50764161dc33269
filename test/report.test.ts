// The run-folder writers on synthetic metrics: the SVG plot, the HTML reports, the result table,
// metrics parsing, and the progress display.
import type { ComparisonResult } from '../lib/compare';
import { formatComparisonTable, spread, summarize } from '../lib/compare';
import { OFFICIAL_PROTOCOLS } from '../lib/defaults';
import { holm, pairedProportionTest, pairedTTest } from '../lib/statistics';
import { comparisonPanels, MetricsRecord, parseMetrics, trainingPanels } from '../lib/cli/curves';
import { downsample, escapeXml, formatTick, niceTicks, renderChart, smooth } from '../lib/cli/plot';
import { formatDuration, Progress, renderBar } from '../lib/cli/progress';
import { comparisonReport } from '../lib/cli/comparison-report';
import { configTable, htmlTable, trainingReport } from '../lib/cli/report';
import { checkWellFormed } from './helpers/xml';

/** Step and epoch records of a run that learns: loss falls from ~2.3, accuracy rises. */
function syntheticRun(
  epochs: number,
  stepsPerEpoch: number,
  extra: Partial<MetricsRecord> = {},
  rate = 1,
): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  let step = 0;
  for (let e = 1; e <= epochs; e++) {
    for (let s = 1; s <= stepsPerEpoch; s++) {
      step++;
      const t = step / (epochs * stepsPerEpoch);
      const wiggle = 0.05 * Math.sin(step * 1.7);
      out.push({
        type: 'step',
        epoch: e,
        step,
        stepInEpoch: s,
        stepsPerEpoch,
        loss: 2.3 * Math.exp(-2 * rate * t) + wiggle,
        top1: 0.1 + 0.75 * (1 - Math.exp(-3 * rate * t)) + wiggle / 5,
        lr: 1e-3,
        imagesPerSecond: 700,
        ...extra,
      });
    }
    const t = e / epochs;
    out.push({
      type: 'epoch',
      epoch: e,
      epochs,
      loss: 2.3 * Math.exp(-2 * rate * t),
      top1: 0.1 + 0.75 * (1 - Math.exp(-3 * rate * t)),
      lr: 1e-3,
      imagesPerSecond: 700,
      seconds: 12.5,
      validation: {
        loss: 2.2 * Math.exp(-1.8 * t),
        top1: 0.12 + 0.7 * (1 - Math.exp(-3 * t)),
        top5: 0.9,
        samples: 1000,
      },
      ...extra,
    });
  }
  return out;
}

describe('plot helpers', () => {
  test('niceTicks covers the range with 1-2-2.5-5 steps', () => {
    expect(niceTicks(0, 1, 6)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.31, 0.87, 5)).toEqual([0.4, 0.5, 0.6, 0.7, 0.8]);
    expect(niceTicks(2.24, 2.34, 5)).toEqual([2.24, 2.26, 2.28, 2.3, 2.32, 2.34]);
    expect(niceTicks(0, 250, 3)).toEqual([0, 100, 200]);
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceTicks(5, 5, 5).length).toBeGreaterThan(1); // a flat series still gets an axis
    expect(niceTicks(NaN, 1)).toEqual([]);
  });

  test('formatTick uses as many decimals as the step needs', () => {
    expect(formatTick(0.075, 0.025, 'percent')).toBe('7.5%');
    expect(formatTick(0.1, 0.025, 'percent')).toBe('10.0%');
    expect(formatTick(0.8, 0.2, 'percent')).toBe('80%');
    expect(formatTick(2.3, 0.02)).toBe('2.30');
    expect(formatTick(200, 100)).toBe('200');
  });

  test('downsample averages into buckets and drops non-finite points; smooth is bias-corrected', () => {
    const pts = Array.from({ length: 1000 }, (_, i) => [i, i % 2] as [number, number]);
    pts[10] = [10, NaN];
    const d = downsample(pts, 100);
    expect(d.length).toBe(100);
    for (const [, y] of d) expect(y).toBeGreaterThan(0.3);
    expect(
      smooth([
        [0, 5],
        [1, 5],
        [2, 5],
      ]),
    ).toEqual(
      [
        [0, 5],
        [1, 5],
        [2, 5],
      ].map(([x, y]) => [x, expect.closeTo(y, 10)]),
    );
  });

  test('escapeXml escapes markup characters', () => {
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&#39;');
  });
});

describe('curves.svg', () => {
  const records = syntheticRun(3, 50);

  test('a training run: valid XML, two panels, a line per series, axes, ticks, legend', () => {
    const svg = renderChart(trainingPanels(records), { title: 'vit_mini_patch4_28 on <fashion-mnist>' });
    const elements = checkWellFormed(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(elements.filter((e) => e === 'path').length).toBe(4); // train + validation, in loss and accuracy
    expect(svg).toContain('data-series="train"');
    expect(svg).toContain('data-series="validation"');
    expect(svg).toContain('stroke-dasharray'); // validation is dashed
    expect(svg).toContain('>Loss</text>');
    expect(svg).toContain('>Top-1 accuracy</text>');
    expect(svg).toContain('>cross-entropy loss</text>');
    expect(svg).toContain('>epoch</text>');
    expect(svg).toMatch(/>\d+%<\/text>/); // percent ticks on the accuracy axis
    expect(svg).toContain('&lt;fashion-mnist&gt;'); // the title is escaped
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    // Train and validation keep their colour across the two panels.
    const trainColors = new Set([...svg.matchAll(/stroke="(#[0-9A-F]+)"[^>]*data-series="train"/g)].map((m) => m[1]));
    expect(trainColors.size).toBe(1);
  });

  test('a comparison: one line per noise kind, the mean over seeds', () => {
    const kinds = ['none', 'linear', 'optimal', 'gaussian', 'saltPepper'];
    const all = kinds.flatMap((kind, k) =>
      [1, 2].flatMap((seed) => syntheticRun(2, 40, { kind, seed }, 1 + k * 0.2 + seed * 0.01)),
    );
    const panels = comparisonPanels(all, kinds);
    expect(panels.map((p) => p.series.map((s) => s.name))).toEqual([kinds, kinds]);
    expect(panels[0].series[0].points.length).toBe(80);
    const svg = renderChart(panels);
    checkWellFormed(svg);
    for (const kind of kinds) expect(svg).toContain(`data-series="${kind}"`);
    expect(new Set([...svg.matchAll(/class="series" stroke="(#[0-9A-F]+)"/g)].map((m) => m[1])).size).toBe(5);
  });

  test('runs with only epoch records, empty panels and NaN values still render', () => {
    const epochsOnly = syntheticRun(4, 3).filter((r) => r.type === 'epoch');
    checkWellFormed(renderChart(trainingPanels(epochsOnly)));
    const empty = renderChart(trainingPanels([]));
    checkWellFormed(empty);
    expect(empty).toContain('no data');
    const nan = renderChart([
      {
        title: 't',
        xLabel: 'x',
        yLabel: 'y',
        series: [
          {
            name: 's',
            points: [
              [0, NaN],
              [1, 2],
              [2, 3],
            ],
          },
        ],
      },
    ]);
    checkWellFormed(nan);
    expect(nan).not.toContain('NaN');
  });
});

describe('metrics.jsonl', () => {
  test('parseMetrics reads JSON lines and names the bad line', () => {
    expect(parseMetrics('{"type":"step","loss":1}\n\n{"type":"epoch"}\n')).toHaveLength(2);
    expect(() => parseMetrics('{"type":"step"}\n{oops\n')).toThrow('metrics.jsonl line 2 is not valid JSON: {oops');
    expect(() => parseMetrics('[1,2]')).toThrow('metrics.jsonl line 1 is not a JSON object');
  });
});

// Five seeds; a seed effect shared by every kind (what pairing removes) plus a per-kind jitter.
// Against none, linear helps by 1 point, gaussian hurts by 3, optimal and saltPepper do nothing
// detectable. At evaluation, optimal noise leaks 12 points through class-sorted batches.
const SEEDS = [1, 2, 3, 4, 5];
const SEED_EFFECT = [-0.006, 0.002, 0.004, -0.003, 0.003];
const KINDS = ['none', 'linear', 'optimal', 'gaussian', 'saltPepper'] as const;
const BASE = { none: 0.84, linear: 0.85, optimal: 0.838, gaussian: 0.81, saltPepper: 0.843 };
const JITTER = {
  none: [0, 0, 0, 0, 0],
  linear: [0.001, -0.001, 0.002, 0, -0.002],
  optimal: [0.004, -0.006, 0.003, -0.002, 0.001],
  gaussian: [0.002, -0.002, 0.001, -0.001, 0],
  saltPepper: [0.01, -0.012, 0.008, -0.004, 0.001],
};
/** What the kind's noise at evaluation does on shuffled batches, and what class-sorted ones add. */
const EVAL_NOISE = { none: 0, linear: -0.01, optimal: -0.2, gaussian: -0.05, saltPepper: -0.02 };
const LEAK = { none: 0, linear: 0.01, optimal: 0.12, gaussian: 0, saltPepper: 0 };

function syntheticComparison(): ComparisonResult {
  const ev = (t: number) => ({ loss: 0.45, top1: t, top5: 0.99, samples: 10000 });
  const runs = SEEDS.flatMap((seed, i) =>
    KINDS.map((kind) => {
      const top1 = BASE[kind] + SEED_EFFECT[i] + JITTER[kind][i];
      const shuffled = top1 + EVAL_NOISE[kind];
      const preset =
        kind === 'none' ? { officialPresetShuffled: ev(top1 - 0.2), officialPreset: ev(top1 - 0.2 + 0.16) } : {};
      return {
        kind,
        seed,
        epochs: 3,
        trainSeconds: 41.2,
        trainLoss: 0.41,
        trainTop1: 0.86,
        leakFree: ev(top1),
        noiseShuffled: ev(shuffled),
        official: ev(shuffled + LEAK[kind]),
        ...preset,
        history: [],
      };
    }),
  );
  const config = {
    dataset: 'Fashion-MNIST',
    model: 'vit_mini_patch4_28' as const,
    family: 'vit' as const,
    parameters: 205066,
    kinds: [...KINDS],
    seeds: SEEDS,
    epochs: 3,
    trainSamples: 10000,
    testSamples: 10000,
    batchSize: 128,
    evalBatchSize: 64,
    optimizer: { name: 'adamw' as const, lr: 2e-3, weightDecay: 0.05 },
    schedule: { name: 'cosine' as const, warmupSteps: 35 },
    labelSmoothing: 0,
    noise: {
      axis: 'batch' as const,
      strengths: { linear: 0.3, gaussian: 0.1, saltPepper: 0.1 },
      trainWhen: 'train' as const,
      officialWhen: 'eval' as const,
      detach: false,
      layer: 3,
    },
    protocol: { family: 'vit' as const, ...OFFICIAL_PROTOCOLS.vit },
    normalize: 'fashion-mnist' as const,
    audit: true,
    auditSamples: 10000,
    device: 'cpu',
    numWorkers: 1,
  };
  const rows = [...KINDS.map((kind) => [kind, kind] as const), ['none', 'optimal'] as const];
  const audits = SEEDS.flatMap((seed) =>
    rows.map(([kind, evalKind]) => {
      const leaky = evalKind === 'optimal';
      const [b, c] = leaky ? [1300, 100] : [3, 2];
      const test = (pair: 'sorted-shuffled' | 'sorted-single' | 'shuffled-single', bb: number, cc: number) => ({
        pair,
        measures: pair === 'sorted-shuffled' ? ('leak' as const) : ('noiseEffect' as const),
        ...pairedProportionTest(bb, cc, 10000, pair === 'sorted-shuffled' ? 'greater' : 'two-sided', 0.001),
      });
      const tests = [test('sorted-shuffled', b, c), test('sorted-single', 5, 4), test('shuffled-single', 2, 3)];
      return {
        kind,
        evalKind,
        label: kind === evalKind ? kind : `${kind} → ${evalKind}`,
        seed,
        sortedTop1: 0.8 + (b - c) / 10000,
        shuffledTop1: 0.8,
        singleTop1: 0.8,
        leakSuspected: tests[0].significant,
        leak: tests[0],
        minimumDetectableLeak: tests[0].minimumDetectable,
        samples: 10000,
        batchSize: 10,
        alpha: 0.001,
        explanation: `explained <${kind}>`,
        tests,
      };
    }),
  );
  return {
    config,
    runs,
    summary: summarize(runs, config.kinds, audits),
    audits,
    aborted: false,
    seconds: 611,
    environment: { version: '0.1.0', libtorch: '1.13.1', blas: 'OpenBLAS', threads: 2, node: 'v20' },
  };
}

/** The paired differences d_s = leakFree(kind, s) - leakFree(none, s) of the synthetic runs. */
const differences = (kind: keyof typeof BASE) =>
  JITTER[kind].map((j, i) => BASE[kind] - BASE.none + j - JITTER.none[i]);
const points = (x: number) => (100 * x).toFixed(2);

describe('the comparison summary and table', () => {
  test('spread: mean, sample standard deviation and the 95% t interval of the mean', () => {
    const s = spread([0.8, 0.82, 0.84]);
    expect(s.mean).toBeCloseTo(0.82, 12);
    expect(s.std).toBeCloseTo(0.02, 12);
    expect(s.halfWidth).toBeCloseTo((4.30265273 * 0.02) / Math.sqrt(3), 8);
    expect(spread([0.5]).std).toBe(0);
    expect(spread([0.5]).halfWidth).toBeNaN();
  });

  test("each kind's effect is paired against none per seed, Holm-corrected across the four kinds", () => {
    const r = syntheticComparison();
    const effects = (['linear', 'optimal', 'gaussian', 'saltPepper'] as const).map((kind) => {
      const e = r.summary.find((s) => s.label === kind)?.effect;
      const t = pairedTTest(differences(kind));
      expect(e?.mean).toBeCloseTo(t.mean, 12);
      // mean ± t_{0.975, 4} sd / sqrt(5)
      expect(e?.halfWidth).toBeCloseTo((2.77644511 * t.sd) / Math.sqrt(5), 8);
      expect(e?.pValue).toBeCloseTo(t.pValue, 12);
      expect(e?.seeds).toEqual(SEEDS);
      return e!;
    });
    const adjusted = holm(effects.map((e) => e.pValue));
    effects.forEach((e, i) => expect(e.pHolm).toBeCloseTo(adjusted[i], 12));
    expect(effects.map((e) => e.verdict)).toEqual(['helps', 'none detectable', 'hurts', 'none detectable']);
    // "No effect detectable above X": X is the largest |d| inside the 95% interval.
    const optimal = effects[1];
    expect(optimal.detectableAbove).toBeCloseTo(Math.max(Math.abs(optimal.lower), Math.abs(optimal.upper)), 12);
    // The seed effect cancels in the pairing: linear's interval is far narrower than its spread over seeds.
    const linear = r.summary.find((s) => s.label === 'linear')!;
    expect(effects[0].halfWidth).toBeLessThan(linear.leakFree.halfWidth / 2);
    expect(r.summary.find((s) => s.label === 'none')?.effect).toBeUndefined();
  });

  test('each row holds eval noise on shuffled batches, the official protocol, the leak and the audits', () => {
    const r = syntheticComparison();
    const optimal = r.summary.find((s) => s.label === 'optimal')!;
    expect(optimal.noiseShuffled.mean).toBeCloseTo(optimal.leakFree.mean - 0.2, 12);
    expect(optimal.leak.mean).toBeCloseTo(0.12, 12);
    expect(optimal.leak.values).toEqual(
      r.runs.filter((x) => x.kind === 'optimal').map((x) => x.official.top1 - x.noiseShuffled.top1),
    );
    expect(optimal.audit).toMatchObject({ audited: 5, leaks: 5, alpha: 0.001 });
    const preset = r.summary.find((s) => s.label === 'none → optimal')!;
    expect(preset.noiseShuffled.mean).toBeCloseTo(r.summary[0].leakFree.mean - 0.2, 12); // the cell the paper never reported
    expect(preset.leak.mean).toBeCloseTo(0.16, 12);
    expect(r.summary.find((s) => s.label === 'gaussian')?.audit).toMatchObject({ audited: 5, leaks: 0 });
  });

  test('text and markdown tables: the paired effects with intervals and verdicts, then the protocols', () => {
    const r = syntheticComparison();
    const text = formatComparisonTable(r, 'text');
    expect(text).toContain(
      'Fashion-MNIST · vit_mini_patch4_28 (205,066 parameters) · 5 seeds × 3 epochs on 10,000 training images',
    );
    const hw = (kind: keyof typeof BASE) => points(pairedTTest(differences(kind)).halfWidth);
    const lf = (kind: keyof typeof BASE) => {
      const m = r.summary.find((s) => s.label === kind)!.leakFree;
      return `${points(m.mean)} ± ${points(m.halfWidth)}`;
    };
    expect(text).toMatch(new RegExp(`^none\\s+${lf('none')}\\s+\\(reference\\)$`, 'm'));
    expect(text).toMatch(
      new RegExp(`^linear\\s+${lf('linear')}\\s+\\+1\\.00 ± ${hw('linear')}\\s+<0\\.001\\s+helps$`, 'm'),
    );
    expect(text).toMatch(
      new RegExp(`^gaussian\\s+${lf('gaussian')}\\s+−3\\.00 ± ${hw('gaussian')}\\s+<0\\.001\\s+hurts$`, 'm'),
    );
    const opt = r.summary.find((s) => s.label === 'optimal')!.effect!;
    expect(text).toMatch(
      new RegExp(
        `^optimal\\s+${lf('optimal')}\\s+−0\\.20 ± ${hw('optimal')}\\s+\\d\\.\\d{3}\\s+no effect detectable above ${points(opt.detectableAbove)} points$`,
        'm',
      ),
    );
    // The protocols: leak-free, eval noise shuffled, official, the leak (sorted − shuffled) and the audits' count.
    expect(text).toMatch(
      /^optimal\s+[\d.]+ ± [\d.]+\s+[\d.]+ ± [\d.]+\s+[\d.]+ ± [\d.]+\s+\+12\.00 ± 0\.00\s+leak 5\/5$/m,
    );
    expect(text).toMatch(
      /^none → optimal\s+[\d.]+ ± [\d.]+\s+[\d.]+ ± [\d.]+\s+[\d.]+ ± [\d.]+\s+\+16\.00 ± 0\.00\s+leak 5\/5$/m,
    );
    expect(text).toMatch(
      /^gaussian\s+[\d.]+ ± [\d.]+\s+[\d.]+ ± [\d.]+\s+[\d.]+ ± [\d.]+\s+\+0\.00 ± 0\.00\s+no leak 0\/5$/m,
    );
    expect(text).toContain('± is the 95% t interval of the mean over 5 seeds (1, 2, 3, 4, 5)');
    expect(text).toContain('Holm-corrected across the 4 kinds compared');
    expect(text).toContain(
      "none → optimal: the models trained without noise, with optimal noise at evaluation only: class-sorted, the paper's headline protocol; shuffled, the cell the paper never reported.",
    );
    expect(text).toContain(
      'class-sorted vs shuffled batches of 10, one-sided (sorted better), exact binomial when b + c < 25, McNemar otherwise',
    );
    expect(text).not.toMatch(/\bsample std\b/);
    const md = formatComparisonTable(r, 'markdown');
    expect(md).toContain('| noise | leak-free top-1 % | Δ vs none, points | p (Holm) | verdict |');
    expect(md).toContain(`| linear | ${lf('linear')} | +1.00 ± ${hw('linear')} | <0.001 | helps |`);
    expect(md).toContain(
      '| noise (train → eval) | leak-free % | eval noise, shuffled % | official, sorted % | leak, points | leak audit |',
    );
  });

  test('one seed: no intervals, no verdicts', () => {
    const r = syntheticComparison();
    const one = r.runs.filter((x) => x.seed === 1);
    const summary = summarize(one, r.config.kinds, []);
    expect(summary.find((s) => s.label === 'linear')?.effect).toMatchObject({ verdict: 'too few seeds', n: 1 });
    const text = formatComparisonTable({ ...r, summary, audits: [], config: { ...r.config, seeds: [1] } });
    expect(text).toMatch(/^linear\s+\d+\.\d\d\s+\+\d\.\d\d\s+—\s+needs 2\+ seeds$/m);
  });
});

describe('report.html', () => {
  test('the comparison report is one self-contained, well-formed page with the tables, the plot and the audits', () => {
    const r = syntheticComparison();
    r.config.dataset = 'Fashion-MNIST <script>alert(1)</script>';
    const kinds = r.config.kinds;
    const svg = renderChart(
      comparisonPanels(
        kinds.flatMap((kind) => syntheticRun(2, 10, { kind, seed: 1 })),
        kinds,
      ),
    );
    const html = comparisonReport(r, svg, {
      command: "noisynn compare --out 'my runs'",
      started: new Date('2025-01-02T03:04:05Z'),
    });
    checkWellFormed(html, { html: true });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toMatch(/\b(src|href)=/); // nothing to fetch: opens offline
    expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(html).toContain('Does the noise help when nothing leaks?');
    expect(html).toContain('Noise at evaluation and the official protocol');
    expect(html).toContain('Leakage audit');
    expect(html).toContain('Every run');
    expect(html).toContain('<code>none → optimal</code>');
    expect(html).toContain('<code>none</code> → <code>optimal</code>'); // its audit rows
    expect(html).toContain('leak 5/5');
    expect(html).toContain('no leak 0/5');
    expect(html).toContain('<code>optimizer.lr</code>');
    expect(html).toContain('<code>protocol.evalBatchSize</code>');
    expect(html).toContain('2025-01-02 03:04:05 UTC');
    expect(html).toContain('took 10 min 11 s');
    // Two result tables (5 + 6 rows), 30 audits, 25 runs.
    expect((html.match(/<tr>/g) ?? []).length).toBeGreaterThan(6 + 7 + 31 + 26);
    expect(html).toContain('<code>linear</code> <b>helps</b> (+1.00 ±');
    expect(html).toContain('<code>gaussian</code> <b>hurts</b> (−3.00 ±');
    expect(html).toContain('<code>optimal</code>: no effect detectable above');
    expect(html).toContain(
      'the audits find a leak for <code>none → optimal</code> (5/5 seeds), <code>optimal</code> (5/5 seeds)',
    );
    expect(html).not.toMatch(/sample std/);
  });

  test('an interrupted comparison with no finished run still renders', () => {
    const r = syntheticComparison();
    const empty = { ...r, runs: [], summary: [], audits: [], aborted: true };
    const html = comparisonReport(empty, renderChart(comparisonPanels([], r.config.kinds)), {
      command: 'noisynn compare',
      started: new Date(),
    });
    checkWellFormed(html, { html: true });
    expect(html).toContain('No run finished.');
  });

  test('the training report holds the epochs, the test score and the curves', () => {
    const records = syntheticRun(3, 20);
    const history = records.filter((x) => x.type === 'epoch') as unknown as Parameters<
      typeof trainingReport
    >[0]['history'];
    const html = trainingReport(
      {
        config: { model: 'vit_mini_patch4_28', noise: { kind: 'linear', strength: 0.3 } },
        history,
        test: { loss: 0.4, top1: 0.8512, top5: 0.99, samples: 10000 },
        testProtocol: 'no noise at evaluation, shuffled batches of 256',
        aborted: false,
        resumedFrom: 2,
        seconds: 75,
        environment: { libtorch: '1.13.1' },
      },
      renderChart(trainingPanels(records)),
      { command: 'noisynn train', started: new Date(), title: 'noisynn train: vit_mini_patch4_28 on fashion-mnist' },
    );
    checkWellFormed(html, { html: true });
    expect(html).toContain(
      'Test top-1 <b>85.12%</b> (top-5 99.00%, loss 0.4000) on 10,000 images: no noise at evaluation, shuffled batches of 256.',
    );
    expect(html).toContain('took 1 min 15 s (resumed after epoch 2)');
    expect(html).toContain('<code>noise.kind</code>');
    expect((html.match(/<tr>/g) ?? []).length).toBe(1 + 3 + 1 + 2); // epochs table (header + 3) + config table (header + 3 settings in 2 columns)
  });

  test('htmlTable and configTable escape their text', () => {
    expect(htmlTable({ headers: ['a<b'], rows: [['<i>x</i>']] })).toContain('&lt;i&gt;x&lt;/i&gt;');
    expect(configTable({ a: { b: [1, 2], c: null } })).toContain('<code>a.b</code></td><td class="left">1, 2</td>');
  });
});

describe('progress display', () => {
  const step = (stepInEpoch: number, epoch = 1) => ({
    epoch,
    epochs: 2,
    stepInEpoch,
    stepsPerEpoch: 10,
    loss: 0.5,
    top1: 0.8,
    imagesPerSecond: 640,
  });
  function sink(isTTY: boolean) {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, columns: 120, write: (s: string) => chunks.push(s) } };
  }

  test('formatDuration and renderBar', () => {
    expect(formatDuration(75)).toBe('1:15');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(NaN)).toBe('--:--');
    expect(renderBar(0.5, 10)).toBe('█████░░░░░');
    expect(renderBar(2, 4)).toBe('████');
  });

  test('on a TTY a bar is redrawn in place with loss, accuracy, images/s and an ETA', () => {
    let now = 0;
    const { chunks, stream } = sink(true);
    const p = new Progress(stream, { now: () => now });
    p.startRun('linear seed 2');
    p.step(step(1));
    now += 1000;
    p.step(step(5)); // 4 steps in 1 s; 15 steps left -> 3.75 s
    const line = chunks[chunks.length - 1];
    expect(line.startsWith('\r\x1b[2K')).toBe(true);
    expect(line).toContain('linear seed 2 · epoch 1/2');
    expect(line).toContain(' 5/10 loss 0.5000 acc 80.0% 640 img/s ETA 0:04');
    expect(line).toContain('█');
    now += 10;
    const before = chunks.length;
    p.step(step(6)); // throttled: 10 ms after the last draw
    expect(chunks.length).toBe(before);
    p.epoch({
      epoch: 1,
      epochs: 2,
      loss: 0.5,
      top1: 0.8,
      imagesPerSecond: 640,
      seconds: 3,
      validation: { loss: 0.6, top1: 0.75 },
    });
    expect(chunks.slice(before).join('')).toBe(
      '\r\x1b[2Klinear seed 2 · epoch 1/2 loss 0.5000 acc 80.0% · val loss 0.6000 acc 75.0% · 640 img/s · 0:03\n',
    );
  });

  test('off a TTY only epoch and message lines are printed; quiet prints only log lines', () => {
    const { chunks, stream } = sink(false);
    const p = new Progress(stream);
    for (let i = 1; i <= 10; i++) p.step(step(i));
    expect(chunks).toEqual([]);
    p.epoch({ epoch: 1, epochs: 2, loss: 0.5, top1: 0.8, imagesPerSecond: 640, seconds: 3 });
    p.info('hello');
    expect(chunks).toEqual(['epoch 1/2 loss 0.5000 acc 80.0% · 640 img/s · 0:03\n', 'hello\n']);
    const q = sink(true);
    const quiet = new Progress(q.stream, { quiet: true });
    quiet.step(step(1));
    quiet.epoch({ epoch: 1, epochs: 2, loss: 0.5, top1: 0.8, imagesPerSecond: 640, seconds: 3 });
    quiet.info('not shown');
    quiet.log('shown');
    expect(q.chunks).toEqual(['shown\n']);
  });

  test('the bar shows moving averages of the noisy batch values', () => {
    const { chunks, stream } = sink(true);
    let now = 0;
    const p = new Progress(stream, { now: () => now });
    p.startRun();
    p.step({ ...step(1), loss: 2, top1: 0 });
    now += 100;
    p.step({ ...step(2), loss: 1, top1: 1 });
    // Bias-corrected EMA (weight 0.9) of [2, 1]: (0.09 * 2 + 0.1 * 1) / 0.19.
    expect(chunks[chunks.length - 1]).toContain(
      `loss ${((0.09 * 2 + 0.1) / 0.19).toFixed(4)} acc ${((100 * 0.1) / 0.19).toFixed(1)}%`,
    );
  });

  test('a declared job gives the ETA of all its runs', () => {
    let now = 0;
    const { stream } = sink(true);
    const p = new Progress(stream, { now: () => now });
    p.startJob(100);
    for (let i = 1; i <= 10; i++) {
      now += 100;
      p.step(step(i));
    }
    expect(p.eta(step(10))).toBeCloseTo(9, 6); // 10 steps in 1 s, 90 left
  });
});
