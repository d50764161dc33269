// The run-folder writers on synthetic metrics: the SVG plot, the HTML reports, the result table,
// metrics parsing, and the progress display.
import type { ComparisonResult } from '../lib/compare';
import { formatComparisonTable, spread, summarize } from '../lib/compare';
import { comparisonPanels, MetricsRecord, parseMetrics, trainingPanels } from '../lib/cli/curves';
import { downsample, escapeXml, formatTick, niceTicks, renderChart, smooth } from '../lib/cli/plot';
import { formatDuration, Progress, renderBar } from '../lib/cli/progress';
import { comparisonReport, configTable, htmlTable, trainingReport } from '../lib/cli/report';
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

function syntheticComparison(): ComparisonResult {
  const kinds = ['none', 'linear', 'optimal', 'gaussian', 'saltPepper'] as const;
  const base = { none: 0.84, linear: 0.845, optimal: 0.838, gaussian: 0.81, saltPepper: 0.83 };
  const leak = { none: 0, linear: 0.02, optimal: 0.12, gaussian: -0.05, saltPepper: 0.03 };
  const runs = kinds.flatMap((kind) =>
    [1, 2, 3].map((seed) => {
      const top1 = base[kind] + (seed - 2) * 0.003;
      const ev = (t: number) => ({ loss: 0.45, top1: t, top5: 0.99, samples: 10000 });
      const preset = kind === 'none' ? { officialPreset: ev(top1 + 0.06) } : {};
      return {
        kind,
        seed,
        epochs: 3,
        trainSeconds: 41.2,
        trainLoss: 0.41,
        trainTop1: 0.86,
        leakFree: ev(top1),
        official: ev(top1 + leak[kind]),
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
    kinds: [...kinds],
    seeds: [1, 2, 3],
    epochs: 3,
    trainSamples: 10000,
    testSamples: 10000,
    batchSize: 128,
    evalBatchSize: 64,
    optimizer: { name: 'adamw' as const, lr: 2e-3, weightDecay: 0.05 },
    schedule: { name: 'cosine' as const, warmupSteps: 35 },
    labelSmoothing: 0,
    noise: { axis: 'batch' as const, strengths: {}, trainWhen: 'train' as const, officialWhen: 'eval' as const },
    normalize: 'fashion-mnist' as const,
    audit: true,
    auditSamples: 2000,
    device: 'cpu',
    numWorkers: 1,
  };
  const audits = [...kinds.map((kind) => [kind, kind] as const), ['none', 'optimal'] as const].map(
    ([kind, evalKind]) => ({
      kind,
      evalKind,
      label: kind === evalKind ? kind : `${kind} → ${evalKind}`,
      seed: 1,
      sortedTop1: base[kind] + leak[kind],
      shuffledTop1: base[kind],
      singleTop1: base[kind],
      leakSuspected: kind !== evalKind || Math.abs(leak[kind]) > 0.01,
      samples: 2000,
      batchSize: 64,
      explanation: `explained <${kind}>`,
      tests: [
        { pair: 'sorted-shuffled' as const, b: 300, c: 20, z: 15.6, significant: true },
        { pair: 'sorted-single' as const, b: 1, c: 0, z: 0, significant: false },
        { pair: 'shuffled-single' as const, b: 0, c: 0, z: 0, significant: false },
      ],
    }),
  );
  return {
    config,
    runs,
    summary: summarize(runs, config.kinds),
    audits,
    aborted: false,
    seconds: 611,
    environment: { version: '0.1.0', libtorch: '1.13.1', blas: 'OpenBLAS', threads: 2, node: 'v20' },
  };
}

describe('the comparison table', () => {
  test('spread: mean and sample standard deviation', () => {
    const s = spread([0.8, 0.82, 0.84]);
    expect(s.mean).toBeCloseTo(0.82, 12);
    expect(s.std).toBeCloseTo(0.02, 12);
    expect(spread([0.5]).std).toBe(0);
  });

  test('text and markdown tables hold mean ± std per kind, the gap and the audit verdict', () => {
    const r = syntheticComparison();
    const text = formatComparisonTable(r, 'text');
    expect(text).toContain(
      'Fashion-MNIST · vit_mini_patch4_28 (205,066 parameters) · 3 seeds × 3 epochs on 10,000 training images',
    );
    expect(text).toMatch(/optimal\s+83\.80 ± 0\.30\s+95\.80 ± 0\.30\s+\+12\.00\s+LEAK/);
    expect(text).toMatch(/^none\s+84\.00 ± 0\.30\s+84\.00 ± 0\.30\s+\+0\.00\s+pass$/m);
    // The paper's headline protocol on the plainly trained models: its own row, right after none.
    expect(text).toMatch(/^none\s.*\nnone → optimal\s+84\.00 ± 0\.30\s+90\.00 ± 0\.30\s+\+6\.00\s+LEAK$/m);
    expect(text).toContain(
      "none → optimal: the models trained without noise, scored with the 'official' preset (optimal noise at evaluation only): the paper's headline protocol.",
    );
    expect(text).toMatch(/gaussian\s+81\.00 ± 0\.30\s+76\.00 ± 0\.30\s+−5\.00\s+LEAK/);
    const md = formatComparisonTable(r, 'markdown');
    expect(md).toContain('| noise | leak-free top-1 % | official top-1 % | official − leak-free | leak audit |');
    expect(md).toContain('| optimal | 83.80 ± 0.30 | 95.80 ± 0.30 | +12.00 | LEAK |');
  });
});

describe('report.html', () => {
  test('the comparison report is one self-contained, well-formed page with the table, the plot and the audit', () => {
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
    expect(html).toContain('Test accuracy by noise kind');
    expect(html).toContain('95.80% ± 0.30%');
    expect(html).toContain('Leakage audit');
    expect(html).toContain('leak suspected');
    expect(html).toContain('Every run');
    expect(html).toContain('<code>none → optimal</code>');
    expect(html).toContain('90.00% ± 0.30%');
    expect(html).toContain('<code>none</code> → <code>optimal</code>'); // its audit row
    expect(html).toContain('<code>optimizer.lr</code>');
    expect(html).toContain('2025-01-02 03:04:05 UTC');
    expect(html).toContain('took 10 min 11 s');
    expect((html.match(/<tr>/g) ?? []).length).toBeGreaterThan(5 + 5 + 15);
    expect(html).toContain('Leak-free, the best kind is <b>linear</b> at 84.50% ± 0.30% top-1.');
  });

  test('the summary does not crown a kind whose lead is within the spread over seeds', () => {
    const r = syntheticComparison();
    for (const s of r.summary) s.leakFree = { ...s.leakFree, std: 0.02 };
    const html = comparisonReport(r, '<svg xmlns="http://www.w3.org/2000/svg"></svg>', {
      command: 'noisynn compare',
      started: new Date(),
    });
    expect(html).toContain(
      "Leak-free, no kind stands out: top-1 ranges from 81.00% (<code>gaussian</code>) to 84.50% (<code>linear</code>), and the leader's margin over the runner-up is within the spread over seeds.",
    );
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
