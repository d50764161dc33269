// Turns metrics.jsonl records into the loss and accuracy panels of curves.svg.
import { Panel, Series, smooth } from './plot';

/** A line of metrics.jsonl: the trainer's step or epoch event, plus compare's run tags. */
export interface MetricsRecord {
  type: 'step' | 'epoch' | string;
  epoch?: number;
  epochs?: number;
  step?: number;
  stepInEpoch?: number;
  stepsPerEpoch?: number;
  loss?: number;
  top1?: number;
  lr?: number;
  imagesPerSecond?: number;
  seconds?: number;
  validation?: { loss: number; top1: number; top5?: number; samples?: number };
  /** compare: the noise kind and seed of the run the record belongs to. */
  kind?: string;
  seed?: number;
  time?: string;
}

/**
 * Parses metrics.jsonl text; blank lines are skipped.
 * @throws Error naming the line number of a line that is not a JSON object.
 */
export function parseMetrics(text: string): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`metrics.jsonl line ${i + 1} is not valid JSON: ${line.slice(0, 80)}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error(`metrics.jsonl line ${i + 1} is not a JSON object`);
    }
    out.push(value as MetricsRecord);
  });
  return out;
}

/** x position of a step record in epochs: 1.5 is half-way through the second epoch. */
function stepX(r: MetricsRecord): number {
  const spe = r.stepsPerEpoch ?? NaN;
  return (r.epoch ?? NaN) - 1 + (r.stepInEpoch ?? NaN) / spe;
}

function num(v: number | undefined): number {
  return typeof v === 'number' ? v : NaN;
}

/**
 * The panels of one training run: loss and top-1 accuracy against epochs, training per step
 * (smoothed, as batch values are noisy) or per epoch when there are no step records, and
 * validation per epoch.
 */
export function trainingPanels(records: readonly MetricsRecord[]): Panel[] {
  const steps = records.filter((r) => r.type === 'step');
  const epochs = records.filter((r) => r.type === 'epoch');
  const lossTrain: Series = steps.length
    ? { name: 'train', points: smooth(steps.map((r) => [stepX(r), num(r.loss)])) }
    : { name: 'train', points: epochs.map((r) => [num(r.epoch), num(r.loss)]), markers: true };
  const accTrain: Series = steps.length
    ? { name: 'train', points: smooth(steps.map((r) => [stepX(r), num(r.top1)])) }
    : { name: 'train', points: epochs.map((r) => [num(r.epoch), num(r.top1)]), markers: true };
  const withValidation = epochs.filter((r) => r.validation);
  const loss: Series[] = [lossTrain];
  const acc: Series[] = [accTrain];
  if (withValidation.length) {
    loss.push({
      name: 'validation',
      points: withValidation.map((r) => [num(r.epoch), num(r.validation?.loss)]),
      dashed: true,
      markers: true,
    });
    acc.push({
      name: 'validation',
      points: withValidation.map((r) => [num(r.epoch), num(r.validation?.top1)]),
      dashed: true,
      markers: true,
    });
  }
  return [
    { title: 'Loss', xLabel: 'epoch', yLabel: 'cross-entropy loss', series: loss, xMin: 0 },
    { title: 'Top-1 accuracy', xLabel: 'epoch', yLabel: 'top-1 accuracy', series: acc, yFormat: 'percent', xMin: 0 },
  ];
}

/**
 * The panels of a comparison: one line per noise kind, the mean over seeds of the smoothed
 * per-step training loss and accuracy (each seed smoothed on its own, then averaged step by step).
 */
export function comparisonPanels(records: readonly MetricsRecord[], kinds: readonly string[]): Panel[] {
  const loss: Series[] = [];
  const acc: Series[] = [];
  for (const kind of kinds) {
    const bySeed = new Map<number, MetricsRecord[]>();
    for (const r of records) {
      if (r.type !== 'step' || r.kind !== kind) continue;
      const list = bySeed.get(r.seed ?? 0) ?? [];
      list.push(r);
      bySeed.set(r.seed ?? 0, list);
    }
    const runs = [...bySeed.values()];
    loss.push({ name: kind, points: meanOfRuns(runs, (r) => num(r.loss)) });
    acc.push({ name: kind, points: meanOfRuns(runs, (r) => num(r.top1)) });
  }
  return [
    { title: 'Training loss (mean over seeds)', xLabel: 'epoch', yLabel: 'cross-entropy loss', series: loss, xMin: 0 },
    {
      title: 'Training top-1 accuracy (mean over seeds)',
      xLabel: 'epoch',
      yLabel: 'top-1 accuracy (train batches)',
      series: acc,
      yFormat: 'percent',
      xMin: 0,
    },
  ];
}

function meanOfRuns(runs: MetricsRecord[][], value: (r: MetricsRecord) => number): [number, number][] {
  if (runs.length === 0) return [];
  const smoothed = runs.map((run) => smooth(run.map((r) => [stepX(r), value(r)])));
  const n = Math.min(...smoothed.map((s) => s.length));
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    out.push([smoothed[0][i][0], smoothed.reduce((s, run) => s + run[i][1], 0) / smoothed.length]);
  }
  return out;
}
