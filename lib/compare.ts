// runComparison: the NoisyNN experiment. Noise kinds x seeds on one model, each trained model
// scored under the leak-free protocol and the paper's official one, plus the leakage audit.
import { createWriteStream, promises as fsp, WriteStream } from 'fs';
import * as path from 'path';
import { auditLeakage, AuditResult } from './audit';
import { DataLoader } from './dataloader';
import { CIFAR10, CIFAR100, Dataset, FashionMNIST, MNIST, TensorDataset } from './datasets';
import { info } from './info';
import { createModel, listModels, MODEL_VARIANTS, ModelVariantName, NoisyModel } from './models';
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
  /** Training epochs over the (sub)set. Default 3. */
  epochs?: number;
  /** Train on a random subset of this many images (0: all). Default 10000. */
  trainSamples?: number;
  /** Test on a random subset of this many images (0: all). Default 0. */
  testSamples?: number;
  /** Training batch size. Default 128. */
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
  /** Test images the audit uses (its batch-size-1 pass is the slow one; 0: the whole test set). Default 2000. */
  auditSamples?: number;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: Device;
  /** Native loader threads. Default 1 (the data is in memory; the cores are better spent on the model). */
  numWorkers?: number;
  /** Append step and epoch records, tagged with kind and seed, to this JSON-lines file. */
  metricsLog?: string;
  /**
   * Per-run checkpoints go to `<checkpointDir>/<kind>-seed<seed>/` after each epoch; a run whose
   * checkpoint is there resumes from it (a finished run is not retrained).
   */
  checkpointDir?: string;
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
  kind: NoiseKind;
  leakFree: Spread;
  official: Spread;
  /** official.mean - leakFree.mean: what the official protocol adds. */
  gap: number;
}

/** The audit of one kind's first-seed model with this kind's noise at evaluation. */
export interface ComparisonAudit extends AuditResult {
  kind: NoiseKind;
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
  // 3 epochs over 10000 images (235 steps a run, 15 runs) keeps the whole job near 10 minutes on
  // two CPU cores with room for the evaluations and the audit; see docs/cli.md for measured times.
  epochs: 3,
  trainSamples: 10000,
  testSamples: 0,
  batchSize: 128,
  // The official evaluation read class-sorted test batches of a few dozen images.
  evalBatchSize: 64,
  // The mini ViT trains from scratch: a higher rate than fine-tuning, with a short warmup.
  lr: 2e-3,
  weightDecay: 0.05,
  labelSmoothing: 0,
  axis: 'batch' as const,
  audit: true,
  auditSamples: 2000,
  device: 'cpu',
  numWorkers: 1,
};

/** `--quick`: the same experiment shrunk to run in about a minute on two CPU cores. */
export const QUICK_COMPARISON: Partial<ComparisonOptions> = {
  seeds: [1, 2],
  epochs: 1,
  trainSamples: 3000,
  testSamples: 2000,
  auditSamples: 500,
};

const OPTION_KEYS = [
  'family', 'model', 'train', 'test', 'datasetName', 'kinds', 'seeds', 'epochs', 'trainSamples', 'testSamples',
  'batchSize', 'evalBatchSize', 'lr', 'weightDecay', 'warmupSteps', 'labelSmoothing', 'strengths', 'axis', 'audit',
  'auditSamples', 'device', 'numWorkers', 'metricsLog', 'checkpointDir', 'signal',
  'onRunStart', 'onStep', 'onEpoch', 'onRunEnd', 'onMessage',
];

// ---------------------------------------------------------------------------------------------
// Data helpers (also used by the CLI)
// ---------------------------------------------------------------------------------------------

/** The normalization preset for a built-in dataset, or null for one without a known preset. */
export function normalizationFor(dataset: Dataset): NormalizePreset | null {
  if (dataset instanceof FashionMNIST) return 'fashion-mnist';
  if (dataset instanceof MNIST) return 'mnist';
  if (dataset instanceof CIFAR10) return 'cifar10';
  if (dataset instanceof CIFAR100) return 'cifar100';
  return dataset.imageShape[0] === 3 ? 'imagenet' : null;
}

/** A seeded permutation of 0..n-1 (Fisher-Yates over a splitmix32 stream). */
export function permutation(n: number, seed: number): Uint32Array {
  let state = (seed >>> 0) ^ 0x9e3779b9;
  const next = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/**
 * `count` samples of `dataset` drawn without replacement by a seeded permutation, copied into a
 * TensorDataset (the images as stored, so transforms still apply). Returns `dataset` itself when
 * count is 0 or not smaller than its length.
 */
export async function randomSubset(dataset: Dataset, count: number, seed: number): Promise<Dataset> {
  if (count === 0 || count >= dataset.length) return dataset;
  const [c, h, w] = dataset.imageShape;
  const per = c * h * w;
  const order = permutation(dataset.length, seed).subarray(0, count);
  const first = await dataset.get(order[0]);
  const float = first.image.dtype === 'float32';
  first.image.dispose();
  const pixels = float ? new Float32Array(count * per) : new Uint8Array(count * per);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const s = await dataset.get(order[i]);
    pixels.set(s.image.toTypedArray() as Uint8Array | Float32Array, i * per);
    labels[i] = s.label;
    s.image.dispose();
  }
  return new TensorDataset({ images: pixels, shape: [count, c, h, w], labels, classes: dataset.classes });
}

// The model each family uses for a dataset's image shape ([C, H, W] as 'CxHxW').
const DEFAULT_MODELS: Record<'vit' | 'cnn', Record<string, ModelVariantName>> = {
  vit: { '1x28x28': 'vit_mini_patch4_28', '3x32x32': 'vit_mini_patch4_32', '3x224x224': 'vit_tiny_patch16_224' },
  cnn: { '1x28x28': 'resnet18_small_28', '3x32x32': 'resnet18_small_32', '3x224x224': 'resnet18' },
};

/** The default model of a family for a dataset's image shape [C, H, W], or null when none fits. */
export function defaultModelFor(family: 'vit' | 'cnn', imageShape: readonly number[]): ModelVariantName | null {
  return DEFAULT_MODELS[family][imageShape.join('x')] ?? null;
}

/**
 * Checks that a variant takes the dataset's images.
 * @throws RangeError naming both shapes when it does not.
 */
export function checkModelFitsData(name: ModelVariantName, imageShape: readonly number[]): void {
  const v = MODEL_VARIANTS[name];
  const [c, h, w] = imageShape;
  const inChannels = (v.config as { inChannels?: number }).inChannels ?? 3;
  if (inChannels !== c) {
    throw new RangeError(`Model ${name} takes ${inChannels}-channel images but the dataset's have ${c} channel${c === 1 ? '' : 's'} (shape [${imageShape.join(', ')}])`);
  }
  if (v.family === 'vit' && (h !== v.imageSize || w !== v.imageSize)) {
    throw new RangeError(`Model ${name} takes ${v.imageSize}x${v.imageSize} images but the dataset's are ${h}x${w}`);
  }
}

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

/** Groups runs by kind, in `kinds` order. */
export function summarize(runs: readonly ComparisonRun[], kinds: readonly NoiseKind[]): KindSummary[] {
  const out: KindSummary[] = [];
  for (const kind of kinds) {
    const mine = runs.filter((r) => r.kind === kind);
    if (mine.length === 0) continue;
    const leakFree = spread(mine.map((r) => r.leakFree.top1));
    const official = spread(mine.map((r) => r.official.top1));
    out.push({ kind, leakFree, official, gap: official.mean - leakFree.mean });
  }
  return out;
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
  const auditOf = (kind: NoiseKind) => {
    const a = audits.find((x) => x.kind === kind);
    return a ? (a.leakSuspected ? 'LEAK' : 'pass') : '—';
  };
  const rows = summary.map((s) => [s.kind, pm(s.leakFree), pm(s.official), signed(s.gap), auditOf(s.kind)]);
  const notes = [
    `leak-free: no noise at evaluation, shuffled test batches of ${config.evalBatchSize}.`,
    `official: the kind's noise at evaluation (as the paper's code), class-sorted test batches of ${config.evalBatchSize}.`,
    `mean ± sample std over ${config.seeds.length} seed${config.seeds.length === 1 ? '' : 's'} (${config.seeds.join(', ')}).`,
  ];
  if (audits.length) {
    notes.push(`leak audit: McNemar tests between class-sorted, shuffled and batch-size-1 evaluation of seed ${audits[0].seed}'s model with the kind's noise at evaluation, ${audits[0].samples} test images.`);
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
  const datasetName = o.datasetName === undefined ? trainFull.constructor.name : expectNonEmptyString(o.datasetName, 'datasetName');
  let model: ModelVariantName;
  if (o.model === undefined) {
    const found = defaultModelFor(family, trainFull.imageShape);
    if (found === null) {
      throw new RangeError(`No default ${family} model for images of shape [${trainFull.imageShape.join(', ')}]; pass model (one of ${listModels().join(', ')})`);
    }
    model = found;
  } else {
    model = expectOneOf(o.model, 'model', listModels());
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
  const warmupSteps = o.warmupSteps === undefined
    ? Math.min(200, Math.round(0.05 * epochs * stepsPerEpoch))
    : expectNonNegativeInteger(o.warmupSteps, 'warmupSteps');

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
  const write = (record: object) => log?.write(`${JSON.stringify({ ...record, time: new Date().toISOString() })}\n`);

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
        const run: RunInfo = { kind, seed, index: si * kinds.length + ki, total, epochs, stepsPerEpoch };
        onRunStart?.(run);
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
            write({ type: 'step', kind, seed, ...e });
            onStep?.(run, e);
          });
          trainer.on('epoch', (e: EpochEvent) => {
            write({ type: 'epoch', kind, seed, ...e });
            onEpoch?.(run, e);
          });
          const t0 = Date.now();
          const fit = await trainer.fit(trainLoader, {
            epochs,
            signal,
            checkpointDir: checkpointDir === undefined ? undefined : path.join(checkpointDir, `${kind}-seed${seed}`),
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
            history: fit.history,
          };
          runs.push(result);
          write({ type: 'run', kind, seed, epochs: fit.epochs, trainSeconds, leakFree, official });
          onRunEnd?.(run, result);
          if (audit && si === 0 && !(signal?.aborted ?? false)) {
            onMessage(`auditing ${kind} (seed ${seed}) with its noise at evaluation on ${auditSet.length} test images...`);
            const a = await auditLeakage(net, auditSet, { batchSize: evalBatchSize, transforms: evalTransforms, seed: 0, numWorkers: Math.max(1, numWorkers) });
            audits.push({ kind, seed, ...a });
            write({ type: 'audit', kind, seed, ...a });
          }
        } finally {
          net.dispose();
        }
        aborted = aborted || (signal?.aborted ?? false);
      }
    }
  } finally {
    if (log) await new Promise<void>((resolve) => log?.end(resolve));
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
