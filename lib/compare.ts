// runComparison: the NoisyNN experiment. Noise kinds x seeds on one model, each trained model
// scored under the leak-free protocol and the paper's official one, plus the leakage audit.
import { createWriteStream, promises as fsp, WriteStream } from 'fs';
import * as path from 'path';
import { auditLeakage, AuditResult } from './audit';
import { DataLoader } from './dataloader';
import { Dataset, displayName, FashionMNIST, normalizationFor, randomSubset } from './datasets';
import { info } from './info';
import { checkModelFitsData, createModel, defaultModelFor, listModels, MODEL_VARIANTS, ModelVariantName, NoisyModel } from './models';
import { NOISE_KINDS, NoiseKind } from './noise';
import { Device } from './tensor';
import { EpochEvent, EvalResult, StepEvent, Trainer } from './trainer';
import { NormalizePreset, Transform, transforms } from './transforms';
import {
  expectBoolean,
  expectDevice,
  expectInteger,
  expectKnownKeys,
  expectNonEmptyString,
  expectNonNegativeInteger,
  expectNonNegativeNumber,
  expectNumberInRange,
  expectOneOf,
  expectOptions,
  expectPositiveInteger,
  expectPositiveNumber,
  rangeError,
  typeError,
} from './validate';

/** Options of {@link runComparison}; every field is optional. */
export interface ComparisonOptions {
  /** 'vit' (default): the mini NoisyViT; 'cnn': the small-stem ResNet-18. Picks the default model. */
  family?: 'vit' | 'cnn';
  /**
   * A registered variant (see listModels). Default: by family and image shape,
   * vit_mini_patch4_28 / vit_mini_patch4_32 or resnet18_small_28 / resnet18_small_32.
   * The head is resized to the dataset's classes.
   */
  model?: ModelVariantName;
  /** Training images. Default: Fashion-MNIST's train split (Debian's package). */
  train?: Dataset;
  /** Test images. Default: Fashion-MNIST's test split. */
  test?: Dataset;
  /** A name for the data in reports. Default: from the dataset class, e.g. 'FashionMNIST'. */
  datasetName?: string;
  /** Noise kinds to compare. Default all five: none, linear, optimal, gaussian, saltPepper. */
  kinds?: readonly NoiseKind[];
  /** Seeds: each seeds the model's initialisation, the data order and the noise. Default [1, 2, 3]. */
  seeds?: readonly number[];
  /** Training epochs over the (sub)set. Default 2. */
  epochs?: number;
  /** Train on a random subset of this many images (0: all). Default 10000. */
  trainSamples?: number;
  /** Test on a random subset of this many images (0: all). Default 5000. */
  testSamples?: number;
  /** Training batch size. Default 64. */
  batchSize?: number;
  /** Evaluation batch size, for both protocols and the audit. Default 64 (the official code used small batches). */
  evalBatchSize?: number;
  /** AdamW peak learning rate. Default 2e-3. */
  lr?: number;
  /** AdamW weight decay. Default 0.05. */
  weightDecay?: number;
  /** Linear warmup steps before the cosine decay. Default: 5% of the steps, at most 200. */
  warmupSteps?: number;
  /** Label smoothing. Default 0. */
  labelSmoothing?: number;
  /** Per-kind noise strength (linear a, gaussian s, saltPepper p). Default: the op's defaults (0.3, 1, 0.1). */
  strengths?: Partial<Record<NoiseKind, number>>;
  /** The mixing axis: 'batch' (default, the official code) or 'spatial'. */
  axis?: 'batch' | 'spatial';
  /** Run the leakage audit on each kind's first-seed model under official noise. Default true. */
  audit?: boolean;
  /** Test images the audit uses (its batch-size-1 pass is the slow one; 0: the whole test set). Default 1000. */
  auditSamples?: number;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: Device;
  /** Native loader threads. Default 1 (the data is in memory; the cores are better spent on the model). */
  numWorkers?: number;
  /** Append step and epoch records, tagged with kind and seed, to this JSON-lines file. */
  metricsLog?: string;
  /**
   * Per-run checkpoints go to `<checkpointDir>/<kind>-seed<seed>/` after each epoch; a run whose
   * checkpoint is there resumes from it. With a metricsLog, a run's folder is removed once its
   * results are in the log (a ResNet-18 checkpoint with its optimizer state is ~135 MB), unless
   * keepCheckpoints.
   */
  checkpointDir?: string;
  /** Keep every run's checkpoint folder after it finishes. Default false. */
  keepCheckpoints?: boolean;
  /**
   * Runs an interrupted job already finished (read back from its metrics log with
   * {@link resumeFromLog}): they are reported as they are, not retrained.
   */
  resume?: { runs: readonly ComparisonRun[]; audits?: readonly ComparisonAudit[] };
  /** Stops after the current step; the result holds the runs finished so far (aborted: true). */
  signal?: AbortSignal;
  /** Progress callbacks. */
  onRunStart?: (run: RunInfo) => void;
  onStep?: (run: RunInfo, event: StepEvent) => void;
  onEpoch?: (run: RunInfo, event: EpochEvent) => void;
  onRunEnd?: (run: RunInfo, result: ComparisonRun) => void;
  /** Lines worth showing a person (data loading, the audit). */
  onMessage?: (message: string) => void;
}

/** Which training run an event belongs to. */
export interface RunInfo {
  kind: NoiseKind;
  seed: number;
  /** 0-based position among all runs, and their count. */
  index: number;
  total: number;
  epochs: number;
  stepsPerEpoch: number;
  /** True when the run's results come from `resume` (no step events follow). */
  restored: boolean;
}

/** The fully defaulted settings of a comparison (what results.json records). */
export interface ComparisonConfig {
  dataset: string;
  model: ModelVariantName;
  family: 'vit' | 'cnn';
  parameters: number;
  kinds: NoiseKind[];
  seeds: number[];
  epochs: number;
  trainSamples: number;
  testSamples: number;
  batchSize: number;
  evalBatchSize: number;
  optimizer: { name: 'adamw'; lr: number; weightDecay: number };
  schedule: { name: 'cosine'; warmupSteps: number };
  labelSmoothing: number;
  noise: { axis: 'batch' | 'spatial'; strengths: Partial<Record<NoiseKind, number>>; trainWhen: 'train'; officialWhen: 'eval' };
  normalize: NormalizePreset | null;
  audit: boolean;
  auditSamples: number;
  device: string;
  numWorkers: number;
}

/** One trained model's scores. */
export interface ComparisonRun {
  kind: NoiseKind;
  seed: number;
  /** Epochs trained (fewer when aborted). */
  epochs: number;
  trainSeconds: number;
  /** The last epoch's training loss and top-1. */
  trainLoss: number;
  trainTop1: number;
  /** No noise at evaluation, shuffled test batches: the honest score. */
  leakFree: EvalResult;
  /** This kind's noise at evaluation, class-sorted test batches: the paper's protocol. */
  official: EvalResult;
  /**
   * Kind 'none' only: the 'official' preset on the plainly trained model (optimal noise at
   * evaluation only, class-sorted batches): the paper's headline protocol.
   */
  officialPreset?: EvalResult;
  /** Per-epoch history from the trainer. */
  history: EpochEvent[];
}

/** Mean and sample standard deviation (n - 1; 0 for a single value) of one protocol's top-1. */
export interface Spread {
  mean: number;
  std: number;
  n: number;
  values: number[];
}

export interface KindSummary {
  /** The noise while training. */
  kind: NoiseKind;
  /**
   * The noise at evaluation under the official protocol: `kind` itself, or 'optimal' for the
   * extra row of models trained without noise and evaluated with the 'official' preset.
   */
  evalKind: NoiseKind;
  /** The row's name: the kind, or 'none → optimal' for the official-preset row. */
  label: string;
  leakFree: Spread;
  official: Spread;
  /** official.mean - leakFree.mean: what the official protocol adds. */
  gap: number;
}

/** The audit of one kind's first-seed model with `evalKind` noise at evaluation. */
export interface ComparisonAudit extends AuditResult {
  kind: NoiseKind;
  evalKind: NoiseKind;
  label: string;
  seed: number;
}

export interface ComparisonResult {
  config: ComparisonConfig;
  runs: ComparisonRun[];
  /** One row per kind, in the order of config.kinds (kinds with no finished run are left out). */
  summary: KindSummary[];
  audits: ComparisonAudit[];
  aborted: boolean;
  seconds: number;
  environment: { version: string; libtorch: string; blas: string; threads: number; node: string };
}

/** What {@link runComparison} uses when an option is omitted. */
export const COMPARISON_DEFAULTS = {
  family: 'vit' as const,
  kinds: [...NOISE_KINDS],
  seeds: [1, 2, 3],
  // 2 epochs over 10000 images in batches of 64 (313 steps a run, 15 runs) keeps the whole job
  // within 15 minutes on two busy CPU cores, evaluations and audit included (docs/cli.md has
  // measured times). A few hundred small steps teach the mini ViT more than fewer large ones.
  epochs: 2,
  trainSamples: 10000,
  // 5000 test images: sampling error ~0.6 points, below the spread over seeds; and every kind is
  // scored on the same images, so the comparison between kinds is paired.
  testSamples: 5000,
  batchSize: 64,
  // The official evaluation read class-sorted test batches of a few dozen images.
  evalBatchSize: 64,
  // The mini ViT trains from scratch in a few hundred steps: a high rate with a short warmup.
  lr: 2e-3,
  weightDecay: 0.05,
  labelSmoothing: 0,
  axis: 'batch' as const,
  audit: true,
  auditSamples: 1000,
  device: 'cpu',
  numWorkers: 1,
};

/** `--quick`: the same experiment shrunk to run in about a minute on two CPU cores. */
export const QUICK_COMPARISON: Partial<ComparisonOptions> = {
  seeds: [1, 2],
  epochs: 1,
  trainSamples: 3000,
  testSamples: 1000,
  auditSamples: 300,
};

const OPTION_KEYS = [
  'family', 'model', 'train', 'test', 'datasetName', 'kinds', 'seeds', 'epochs', 'trainSamples', 'testSamples',
  'batchSize', 'evalBatchSize', 'lr', 'weightDecay', 'warmupSteps', 'labelSmoothing', 'strengths', 'axis', 'audit',
  'auditSamples', 'device', 'numWorkers', 'metricsLog', 'checkpointDir', 'keepCheckpoints', 'resume', 'signal',
  'onRunStart', 'onStep', 'onEpoch', 'onRunEnd', 'onMessage',
];

// ---------------------------------------------------------------------------------------------
// Statistics and tables
// ---------------------------------------------------------------------------------------------

/** Mean and sample standard deviation (n - 1; 0 when there is one value). */
export function spread(values: readonly number[]): Spread {
  const n = values.length;
  const mean = n ? values.reduce((s, v) => s + v, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n, values: [...values] };
}

/** The label of the row of models trained without noise and scored with the 'official' preset. */
export const OFFICIAL_PRESET_LABEL = 'none → optimal';

/**
 * Groups runs by kind, in `kinds` order; after 'none', the 'none → optimal' row (the 'official'
 * preset on the plainly trained models) when its runs have it.
 */
export function summarize(runs: readonly ComparisonRun[], kinds: readonly NoiseKind[]): KindSummary[] {
  const out: KindSummary[] = [];
  for (const kind of kinds) {
    const mine = runs.filter((r) => r.kind === kind);
    if (mine.length === 0) continue;
    const leakFree = spread(mine.map((r) => r.leakFree.top1));
    const official = spread(mine.map((r) => r.official.top1));
    out.push({ kind, evalKind: kind, label: kind, leakFree, official, gap: official.mean - leakFree.mean });
    const preset = mine.filter((r) => r.officialPreset !== undefined);
    if (kind === 'none' && preset.length === mine.length) {
      const officialPreset = spread(preset.map((r) => (r.officialPreset as EvalResult).top1));
      out.push({ kind, evalKind: 'optimal', label: OFFICIAL_PRESET_LABEL, leakFree, official: officialPreset, gap: officialPreset.mean - leakFree.mean });
    }
  }
  return out;
}

/**
 * The finished runs and audits recorded in a comparison's metrics log (its JSON lines, parsed),
 * for {@link ComparisonOptions.resume}. A run counts as finished when its 'run' record is there;
 * its history comes from its 'epoch' records.
 */
export function resumeFromLog(records: readonly Record<string, unknown>[]): { runs: ComparisonRun[]; audits: ComparisonAudit[] } {
  const strip = (r: Record<string, unknown>) => {
    const { type: _type, kind: _kind, seed: _seed, time: _time, ...rest } = r;
    return rest;
  };
  const runs: ComparisonRun[] = [];
  for (const r of records) {
    if (r.type !== 'run') continue;
    const byEpoch = new Map<number, EpochEvent>();
    for (const e of records) if (e.type === 'epoch' && e.kind === r.kind && e.seed === r.seed) byEpoch.set(e.epoch as number, strip(e) as unknown as EpochEvent);
    const history = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
    const last = history[history.length - 1];
    runs.push({ ...(strip(r) as unknown as ComparisonRun), kind: r.kind as NoiseKind, seed: r.seed as number, trainLoss: last?.loss ?? NaN, trainTop1: last?.top1 ?? NaN, history });
  }
  const audits = records.filter((r) => r.type === 'audit').map((r) => ({ ...strip(r), kind: r.kind, seed: r.seed }) as unknown as ComparisonAudit);
  return { runs, audits };
}

const pct = (x: number, digits = 2) => (Number.isFinite(x) ? (100 * x).toFixed(digits) : 'n/a');
const pm = (s: Spread) => `${pct(s.mean)} ± ${pct(s.std)}`;
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${pct(Math.abs(x))}`;

/** One line describing the experiment, for table headers and reports. */
export function describeComparison(c: ComparisonConfig): string {
  const n = (x: number) => x.toLocaleString('en-US');
  return (
    `${c.dataset} · ${c.model} (${n(c.parameters)} parameters) · ${c.seeds.length} seed${c.seeds.length === 1 ? '' : 's'} × ` +
    `${c.epochs} epoch${c.epochs === 1 ? '' : 's'} on ${n(c.trainSamples)} training images · ${n(c.testSamples)} test images · ` +
    `noise along the ${c.noise.axis} axis while training`
  );
}

/**
 * The result table: mean ± std (over seeds) of test top-1 in percent under both protocols,
 * plain text for a terminal or GitHub markdown (table.md).
 */
export function formatComparisonTable(result: Pick<ComparisonResult, 'config' | 'summary' | 'audits'>, format: 'text' | 'markdown' = 'text'): string {
  const { config, summary, audits } = result;
  const header = ['noise', 'leak-free top-1 %', 'official top-1 %', 'official − leak-free', 'leak audit'];
  const auditOf = (s: KindSummary) => {
    const a = audits.find((x) => x.kind === s.kind && x.evalKind === s.evalKind);
    return a ? (a.leakSuspected ? 'LEAK' : 'pass') : '—';
  };
  const rows = summary.map((s) => [s.label, pm(s.leakFree), pm(s.official), signed(s.gap), auditOf(s)]);
  const notes = [
    `leak-free: no noise at evaluation, shuffled test batches of ${config.evalBatchSize}.`,
    `official: the kind's noise at evaluation (as the paper's code), class-sorted test batches of ${config.evalBatchSize}.`,
    ...(summary.some((s) => s.label === OFFICIAL_PRESET_LABEL)
      ? [`${OFFICIAL_PRESET_LABEL}: the models trained without noise, scored with the 'official' preset (optimal noise at evaluation only): the paper's headline protocol.`]
      : []),
    `mean ± sample std over ${config.seeds.length} seed${config.seeds.length === 1 ? '' : 's'} (${config.seeds.join(', ')}).`,
  ];
  if (audits.length) {
    notes.push(`leak audit: McNemar tests between class-sorted, shuffled and batch-size-1 evaluation of seed ${audits[0].seed}'s model with the row's noise at evaluation, ${audits[0].samples} test images.`);
  }
  if (format === 'markdown') {
    const align = ['---', '---:', '---:', '---:', ':---:'];
    return [
      `**${describeComparison(config)}**`,
      '',
      `| ${header.join(' | ')} |`,
      `| ${align.join(' | ')} |`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
      '',
      ...notes.map((n) => `- ${n}`),
      '',
    ].join('\n');
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ').trimEnd();
  return [
    describeComparison(config),
    '',
    line(header),
    widths.map((w) => '─'.repeat(w)).join('   '),
    ...rows.map(line),
    '',
    ...notes,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The experiment
// ---------------------------------------------------------------------------------------------

function expectDataset(value: unknown, name: string): Dataset | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Dataset)) throw typeError(name, 'Dataset', value);
  return value;
}

function expectCallback<T>(value: unknown, name: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw typeError(name, 'function', value);
  return value as T;
}

function expectList<T>(value: unknown, name: string, each: (v: unknown, n: string) => T): T[] {
  if (!Array.isArray(value)) throw typeError(name, 'non-empty array', value);
  if (value.length === 0) throw rangeError(name, 'non-empty array', value);
  const out = value.map((v, i) => each(v, `${name}[${i}]`));
  if (new Set(out).size !== out.length) throw new RangeError(`Expected ${name} without repeats but received [${out.join(', ')}]`);
  return out;
}

/**
 * Runs the NoisyNN comparison: for every seed and noise kind, trains the same model with that
 * noise while training ('default' preset semantics: `when: 'train'`, the official site and
 * batch axis), then scores it on the test set twice:
 *
 * - leak-free: no noise at evaluation, shuffled test batches (this package's default protocol);
 * - official: the kind's noise at evaluation (`when: 'eval'`, as the 'official' preset) with
 *   class-sorted test batches, the way the paper's code evaluated.
 *
 * Every kind starts from the same initial weights and sees the same batches for a given seed, so
 * the kinds differ only in their noise. With `audit`, each kind's first-seed model is audited
 * ({@link auditLeakage}) with its noise at evaluation.
 *
 * @returns Per-run scores, mean ± std per kind, the audits, the resolved config.
 * @throws TypeError / RangeError for bad options (naming the option); Error when the data is missing.
 * @example
 * const result = await runComparison({ seeds: [1, 2], epochs: 1, trainSamples: 3000 });
 * console.log(formatComparisonTable(result));
 */
export async function runComparison(options?: ComparisonOptions): Promise<ComparisonResult> {
  const started = Date.now();
  const o = expectOptions(options);
  expectKnownKeys(o, 'options', OPTION_KEYS);
  const D = COMPARISON_DEFAULTS;
  const family = o.family === undefined ? D.family : expectOneOf(o.family, 'family', ['vit', 'cnn'] as const);
  const kinds = o.kinds === undefined ? [...D.kinds] : expectList(o.kinds, 'kinds', (v, n) => expectOneOf(v, n, NOISE_KINDS));
  const seeds = o.seeds === undefined ? [...D.seeds] : expectList(o.seeds, 'seeds', (v, n) => expectInteger(v, n, 0, 2 ** 32 - 1));
  const epochs = o.epochs === undefined ? D.epochs : expectPositiveInteger(o.epochs, 'epochs');
  const trainSamples = o.trainSamples === undefined ? D.trainSamples : expectNonNegativeInteger(o.trainSamples, 'trainSamples');
  const testSamples = o.testSamples === undefined ? D.testSamples : expectNonNegativeInteger(o.testSamples, 'testSamples');
  const batchSize = o.batchSize === undefined ? D.batchSize : expectPositiveInteger(o.batchSize, 'batchSize');
  const evalBatchSize = o.evalBatchSize === undefined ? D.evalBatchSize : expectPositiveInteger(o.evalBatchSize, 'evalBatchSize');
  const lr = o.lr === undefined ? D.lr : expectPositiveNumber(o.lr, 'lr');
  const weightDecay = o.weightDecay === undefined ? D.weightDecay : expectNonNegativeNumber(o.weightDecay, 'weightDecay');
  const labelSmoothing = o.labelSmoothing === undefined ? D.labelSmoothing : expectNumberInRange(o.labelSmoothing, 'labelSmoothing', 0, 0.999);
  const axis = o.axis === undefined ? D.axis : expectOneOf(o.axis, 'axis', ['batch', 'spatial'] as const);
  const audit = o.audit === undefined ? D.audit : expectBoolean(o.audit, 'audit');
  const auditSamples = o.auditSamples === undefined ? D.auditSamples : expectNonNegativeInteger(o.auditSamples, 'auditSamples');
  const device = (o.device === undefined ? D.device : expectDevice(o.device)) as Device;
  const numWorkers = o.numWorkers === undefined ? D.numWorkers : expectInteger(o.numWorkers, 'numWorkers', 0, 64);
  const metricsLog = o.metricsLog === undefined ? undefined : expectNonEmptyString(o.metricsLog, 'metricsLog');
  const checkpointDir = o.checkpointDir === undefined ? undefined : expectNonEmptyString(o.checkpointDir, 'checkpointDir');
  const keepCheckpoints = o.keepCheckpoints === undefined ? false : expectBoolean(o.keepCheckpoints, 'keepCheckpoints');
  const resume = o.resume === undefined ? { runs: [], audits: [] } : expectOptions(o.resume, 'resume');
  const resumedRuns = (resume.runs ?? []) as readonly ComparisonRun[];
  const resumedAudits = (resume.audits ?? []) as readonly ComparisonAudit[];
  if (!Array.isArray(resumedRuns)) throw typeError('resume.runs', 'array of ComparisonRun', resumedRuns);
  if (!Array.isArray(resumedAudits)) throw typeError('resume.audits', 'array of ComparisonAudit', resumedAudits);
  const givenWarmup = o.warmupSteps === undefined ? undefined : expectNonNegativeInteger(o.warmupSteps, 'warmupSteps');
  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
    throw typeError('signal', 'AbortSignal', signal);
  }
  const strengths: Partial<Record<NoiseKind, number>> = {};
  if (o.strengths !== undefined) {
    const s = expectOptions(o.strengths, 'strengths');
    expectKnownKeys(s, 'strengths', NOISE_KINDS);
    for (const [k, v] of Object.entries(s)) {
      strengths[k as NoiseKind] = k === 'saltPepper' ? expectNumberInRange(v, `strengths.${k}`, 0, 1) : expectNonNegativeNumber(v, `strengths.${k}`);
    }
  }
  const onRunStart = expectCallback<ComparisonOptions['onRunStart']>(o.onRunStart, 'onRunStart');
  const onStep = expectCallback<ComparisonOptions['onStep']>(o.onStep, 'onStep');
  const onEpoch = expectCallback<ComparisonOptions['onEpoch']>(o.onEpoch, 'onEpoch');
  const onRunEnd = expectCallback<ComparisonOptions['onRunEnd']>(o.onRunEnd, 'onRunEnd');
  const onMessage = expectCallback<ComparisonOptions['onMessage']>(o.onMessage, 'onMessage') ?? (() => undefined);

  // Data: the full sets by default (Fashion-MNIST from Debian's package), then the subsets.
  const trainFull = expectDataset(o.train, 'train') ?? new FashionMNIST({ split: 'train' });
  const testFull = expectDataset(o.test, 'test') ?? new FashionMNIST({ split: 'test' });
  if (trainFull.imageShape.join('x') !== testFull.imageShape.join('x')) {
    throw new RangeError(`Expected train and test images of the same shape but received [${trainFull.imageShape.join(', ')}] and [${testFull.imageShape.join(', ')}]`);
  }
  const datasetName = o.datasetName === undefined ? displayName(trainFull) : expectNonEmptyString(o.datasetName, 'datasetName');
  let model: ModelVariantName;
  if (o.model === undefined) {
    const found = defaultModelFor(family, trainFull.imageShape);
    if (found === null) {
      throw new RangeError(`No default ${family} model for images of shape [${trainFull.imageShape.join(', ')}]; pass model (one of ${listModels().join(', ')})`);
    }
    model = found;
  } else {
    model = expectOneOf(o.model, 'model', listModels());
    if (o.family !== undefined && MODEL_VARIANTS[model].family !== family) {
      throw new RangeError(`model ${model} is a ${MODEL_VARIANTS[model].family} model but family is '${family}'`);
    }
  }
  checkModelFitsData(model, trainFull.imageShape);
  const numClasses = trainFull.classes.length;
  const normalize = normalizationFor(trainFull);
  const evalTransforms: Transform[] = normalize ? [transforms.normalize(normalize)] : [];

  onMessage(`loading ${datasetName}${trainSamples ? ` (${trainSamples} training images)` : ''}...`);
  // The subsets depend on a fixed seed, not on the run seeds: every run sees the same images.
  const train = await randomSubset(await trainFull.load(), trainSamples, 0x5eed);
  const test = await randomSubset(await testFull.load(), testSamples, 0x7e57);
  const auditSet = audit ? await randomSubset(test, auditSamples, 0xa0d1) : test;
  const stepsPerEpoch = Math.ceil(train.length / batchSize);
  const warmupSteps = givenWarmup ?? Math.min(200, Math.round(0.05 * epochs * stepsPerEpoch));

  const probe = createModel(model, { numClasses, noise: 'none', initSeed: 0 });
  const parameters = probe.numParameters();
  probe.dispose();

  const config: ComparisonConfig = {
    dataset: datasetName,
    model,
    family: MODEL_VARIANTS[model].family,
    parameters,
    kinds,
    seeds,
    epochs,
    trainSamples: train.length,
    testSamples: test.length,
    batchSize,
    evalBatchSize,
    optimizer: { name: 'adamw', lr, weightDecay },
    schedule: { name: 'cosine', warmupSteps },
    labelSmoothing,
    noise: { axis, strengths, trainWhen: 'train', officialWhen: 'eval' },
    normalize,
    audit,
    auditSamples: auditSet.length,
    device,
    numWorkers,
  };
  const nfo = info();
  const environment = { version: nfo.version, libtorch: nfo.libtorchVersion, blas: nfo.blas, threads: nfo.threads, node: process.version };

  let log: WriteStream | undefined;
  if (metricsLog !== undefined) {
    await fsp.mkdir(path.dirname(path.resolve(metricsLog)), { recursive: true });
    log = createWriteStream(metricsLog, { flags: 'a' });
  }
  // Resolves once the record has reached the file (a checkpoint is deleted only after that).
  const write = (record: object) =>
    new Promise<void>((resolve) => {
      if (log) log.write(`${JSON.stringify({ ...record, time: new Date().toISOString() })}\n`, () => resolve());
      else resolve();
    });

  // Test loaders are shared by all runs; setEpoch(0) before each pass gives every model the same batches.
  const leakFreeLoader = new DataLoader(test, { batchSize: evalBatchSize, order: 'shuffle', seed: 0, transforms: evalTransforms, numWorkers, device });
  const officialLoader = new DataLoader(test, { batchSize: evalBatchSize, order: 'classSorted', seed: 0, transforms: evalTransforms, numWorkers, device });

  const runs: ComparisonRun[] = [];
  const audits: ComparisonAudit[] = [];
  let aborted = signal?.aborted ?? false;
  const total = kinds.length * seeds.length;
  try {
    // Seeds outside, kinds inside: an interrupted job still has every kind for the first seeds.
    outer: for (const [si, seed] of seeds.entries()) {
      for (const [ki, kind] of kinds.entries()) {
        if (aborted) break outer;
        const done = resumedRuns.find((r) => r.kind === kind && r.seed === seed);
        const run: RunInfo = { kind, seed, index: si * kinds.length + ki, total, epochs, stepsPerEpoch, restored: done !== undefined };
        onRunStart?.(run);
        if (done) {
          runs.push(done);
          audits.push(...resumedAudits.filter((a) => a.kind === kind && a.seed === seed));
          onRunEnd?.(run, done);
          continue;
        }
        const runCheckpoints = checkpointDir === undefined ? undefined : path.join(checkpointDir, `${kind}-seed${seed}`);
        const strength = strengths[kind];
        const noise = { kind, axis, when: 'train' as const, seed: seed * 16 + ki, ...(strength === undefined ? {} : { strength }) };
        // Same initSeed for every kind: the kinds start from identical weights.
        const net: NoisyModel = createModel(model, { numClasses, noise, initSeed: seed });
        try {
          if (device !== 'cpu') net.to(device);
          const trainLoader = new DataLoader(train, { batchSize, order: 'shuffle', seed, transforms: evalTransforms, numWorkers, device });
          const trainer = new Trainer(net, {
            optimizer: { name: 'adamw', lr, weightDecay },
            schedule: { name: 'cosine', warmupSteps },
            labelSmoothing,
            seed,
          });
          trainer.on('step', (e: StepEvent) => {
            void write({ type: 'step', kind, seed, ...e });
            onStep?.(run, e);
          });
          trainer.on('epoch', (e: EpochEvent) => {
            void write({ type: 'epoch', kind, seed, ...e });
            onEpoch?.(run, e);
          });
          const t0 = Date.now();
          const fit = await trainer.fit(trainLoader, {
            epochs,
            signal,
            checkpointDir: runCheckpoints,
          });
          const trainSeconds = (Date.now() - t0) / 1000;
          if (fit.aborted) {
            aborted = true;
            break outer;
          }
          leakFreeLoader.setEpoch(0);
          const leakFree = await trainer.evaluate(leakFreeLoader);
          // The official protocol: this kind's noise at evaluation time, class-sorted batches.
          net.setNoise({ ...noise, when: 'eval' });
          officialLoader.setEpoch(0);
          const official = await trainer.evaluate(officialLoader);
          // The audit (first seed only) of the model as the official protocol just scored it.
          const audited: ComparisonAudit[] = [];
          const auditNow = async (evalKind: NoiseKind, label: string) => {
            if (!audit || si !== 0 || signal?.aborted) return;
            onMessage(`auditing ${label} (seed ${seed}) with ${evalKind === 'none' ? 'no noise' : `${evalKind} noise`} at evaluation on ${auditSet.length} test images...`);
            const a = await auditLeakage(net, auditSet, { batchSize: evalBatchSize, transforms: evalTransforms, seed: 0, numWorkers: Math.max(1, numWorkers) });
            audited.push({ kind, evalKind, label, seed, ...a });
          };
          await auditNow(kind, kind);
          // The paper's headline: a plainly trained model, optimal noise at evaluation only.
          let officialPreset: EvalResult | undefined;
          if (kind === 'none') {
            net.setNoise({ kind: 'optimal', axis, when: 'eval', seed: seed * 16 + kinds.length });
            officialLoader.setEpoch(0);
            officialPreset = await trainer.evaluate(officialLoader);
            await auditNow('optimal', OFFICIAL_PRESET_LABEL);
          }
          const last = fit.history[fit.history.length - 1];
          const result: ComparisonRun = {
            kind,
            seed,
            epochs: fit.epochs,
            trainSeconds,
            trainLoss: last?.loss ?? NaN,
            trainTop1: last?.top1 ?? NaN,
            leakFree,
            official,
            ...(officialPreset ? { officialPreset } : {}),
            history: fit.history,
          };
          runs.push(result);
          audits.push(...audited);
          // The 'run' record comes last: a run without one is retrained on resume.
          for (const entry of audited) void write({ type: 'audit', ...entry });
          await write({ type: 'run', kind, seed, epochs: fit.epochs, trainSeconds, leakFree, official, ...(officialPreset ? { officialPreset } : {}) });
          if (runCheckpoints !== undefined && !keepCheckpoints && log !== undefined) {
            await fsp.rm(runCheckpoints, { recursive: true, force: true });
          }
          onRunEnd?.(run, result);
        } finally {
          net.dispose();
        }
        aborted = aborted || (signal?.aborted ?? false);
      }
    }
  } finally {
    if (log) await new Promise<void>((resolve) => log?.end(resolve));
    // The parent folder goes too when every run's folder has.
    if (checkpointDir !== undefined && !keepCheckpoints) await fsp.rmdir(checkpointDir).catch(() => undefined);
  }
  return {
    config,
    runs,
    summary: summarize(runs, kinds),
    audits,
    aborted,
    seconds: (Date.now() - started) / 1000,
    environment,
  };
}
