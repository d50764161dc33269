// runComparison's options: what a caller passes, the defaults, and their validation into the
// settings a run uses.
import { Dataset } from '../datasets';
import { OPTIMIZER_DEFAULTS, TRAINING_JOB_LR } from '../defaults';
import { listModels, ModelVariantName } from '../models';
import { NOISE_KINDS, NoiseKind } from '../noise';
import type { Device } from '../tensor';
import type { EpochEvent, StepEvent } from '../trainer';
import type { NormalizePreset } from '../transforms';
import {
  expectAbortSignal,
  expectBoolean,
  expectCallback,
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
} from '../validate';
import type { ComparisonAudit, ComparisonRun } from './table';

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
  /** AdamW peak learning rate. Default 2e-3 (the training jobs' rate, see TRAINING_JOB_LR). */
  lr?: number;
  /** AdamW weight decay. Default 0.05. */
  weightDecay?: number;
  /** Linear warmup steps before the cosine decay. Default: 5% of the steps, at most 200 (defaultWarmupSteps). */
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
   * Runs an interrupted job already finished (read back from its metrics log, as
   * `noisynn compare --resume` does): they are reported as they are, not retrained.
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
  noise: {
    axis: 'batch' | 'spatial';
    strengths: Partial<Record<NoiseKind, number>>;
    trainWhen: 'train';
    officialWhen: 'eval';
  };
  normalize: NormalizePreset | null;
  audit: boolean;
  auditSamples: number;
  device: string;
  numWorkers: number;
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
  lr: TRAINING_JOB_LR.adamw,
  weightDecay: OPTIMIZER_DEFAULTS.adamw.weightDecay,
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
  'family',
  'model',
  'train',
  'test',
  'datasetName',
  'kinds',
  'seeds',
  'epochs',
  'trainSamples',
  'testSamples',
  'batchSize',
  'evalBatchSize',
  'lr',
  'weightDecay',
  'warmupSteps',
  'labelSmoothing',
  'strengths',
  'axis',
  'audit',
  'auditSamples',
  'device',
  'numWorkers',
  'metricsLog',
  'checkpointDir',
  'keepCheckpoints',
  'resume',
  'signal',
  'onRunStart',
  'onStep',
  'onEpoch',
  'onRunEnd',
  'onMessage',
];

/** The options of a comparison once validated, every default filled in but the data's. */
export interface ComparisonSettings {
  family: 'vit' | 'cnn';
  /** Whether the caller chose the family (then a given model must belong to it). */
  familyGiven: boolean;
  model: ModelVariantName | undefined;
  train: Dataset | undefined;
  test: Dataset | undefined;
  datasetName: string | undefined;
  kinds: NoiseKind[];
  seeds: number[];
  epochs: number;
  trainSamples: number;
  testSamples: number;
  batchSize: number;
  evalBatchSize: number;
  lr: number;
  weightDecay: number;
  /** Undefined: {@link defaultWarmupSteps} of the run's steps. */
  warmupSteps: number | undefined;
  labelSmoothing: number;
  strengths: Partial<Record<NoiseKind, number>>;
  axis: 'batch' | 'spatial';
  audit: boolean;
  auditSamples: number;
  device: Device;
  numWorkers: number;
  metricsLog: string | undefined;
  checkpointDir: string | undefined;
  keepCheckpoints: boolean;
  resumedRuns: readonly ComparisonRun[];
  resumedAudits: readonly ComparisonAudit[];
  signal: AbortSignal | undefined;
  onRunStart?: ComparisonOptions['onRunStart'];
  onStep?: ComparisonOptions['onStep'];
  onEpoch?: ComparisonOptions['onEpoch'];
  onRunEnd?: ComparisonOptions['onRunEnd'];
  onMessage: NonNullable<ComparisonOptions['onMessage']>;
}

function expectDataset(value: unknown, name: string): Dataset | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Dataset)) throw typeError(name, 'Dataset', value);
  return value;
}

function expectList<T>(value: unknown, name: string, each: (v: unknown, n: string) => T): T[] {
  if (!Array.isArray(value)) throw typeError(name, 'non-empty array', value);
  if (value.length === 0) throw rangeError(name, 'non-empty array', value);
  const out = value.map((v, i) => each(v, `${name}[${i}]`));
  if (new Set(out).size !== out.length)
    throw new RangeError(`Expected ${name} without repeats but received [${out.join(', ')}]`);
  return out;
}

function expectResume(value: unknown): Pick<ComparisonSettings, 'resumedRuns' | 'resumedAudits'> {
  const resume = value === undefined ? {} : expectOptions(value, 'resume');
  const resumedRuns = resume.runs ?? [];
  const resumedAudits = resume.audits ?? [];
  if (!Array.isArray(resumedRuns)) throw typeError('resume.runs', 'array of ComparisonRun', resumedRuns);
  if (!Array.isArray(resumedAudits)) throw typeError('resume.audits', 'array of ComparisonAudit', resumedAudits);
  return { resumedRuns: resumedRuns as ComparisonRun[], resumedAudits: resumedAudits as ComparisonAudit[] };
}

function expectStrengths(value: unknown): Partial<Record<NoiseKind, number>> {
  const strengths: Partial<Record<NoiseKind, number>> = {};
  if (value === undefined) return strengths;
  const s = expectOptions(value, 'strengths');
  expectKnownKeys(s, 'strengths', NOISE_KINDS);
  for (const [k, v] of Object.entries(s)) {
    strengths[k as NoiseKind] =
      k === 'saltPepper'
        ? expectNumberInRange(v, `strengths.${k}`, 0, 1)
        : expectNonNegativeNumber(v, `strengths.${k}`);
  }
  return strengths;
}

/**
 * Validates every option of {@link runComparison} and fills the defaults that do not depend on
 * the data (the model, the dataset name and the warmup do).
 * @throws TypeError / RangeError naming the option.
 */
export function resolveComparisonOptions(options: ComparisonOptions | undefined): ComparisonSettings {
  const o = expectOptions(options);
  expectKnownKeys(o, 'options', OPTION_KEYS);
  const D = COMPARISON_DEFAULTS;
  // In the order the options are checked: the first bad one is the one reported.
  return {
    family: o.family === undefined ? D.family : expectOneOf(o.family, 'family', ['vit', 'cnn'] as const),
    familyGiven: o.family !== undefined,
    kinds:
      o.kinds === undefined ? [...D.kinds] : expectList(o.kinds, 'kinds', (v, n) => expectOneOf(v, n, NOISE_KINDS)),
    seeds:
      o.seeds === undefined
        ? [...D.seeds]
        : expectList(o.seeds, 'seeds', (v, n) => expectInteger(v, n, 0, 2 ** 32 - 1)),
    epochs: o.epochs === undefined ? D.epochs : expectPositiveInteger(o.epochs, 'epochs'),
    trainSamples:
      o.trainSamples === undefined ? D.trainSamples : expectNonNegativeInteger(o.trainSamples, 'trainSamples'),
    testSamples: o.testSamples === undefined ? D.testSamples : expectNonNegativeInteger(o.testSamples, 'testSamples'),
    batchSize: o.batchSize === undefined ? D.batchSize : expectPositiveInteger(o.batchSize, 'batchSize'),
    evalBatchSize:
      o.evalBatchSize === undefined ? D.evalBatchSize : expectPositiveInteger(o.evalBatchSize, 'evalBatchSize'),
    lr: o.lr === undefined ? D.lr : expectPositiveNumber(o.lr, 'lr'),
    weightDecay: o.weightDecay === undefined ? D.weightDecay : expectNonNegativeNumber(o.weightDecay, 'weightDecay'),
    labelSmoothing:
      o.labelSmoothing === undefined
        ? D.labelSmoothing
        : expectNumberInRange(o.labelSmoothing, 'labelSmoothing', 0, 0.999),
    axis: o.axis === undefined ? D.axis : expectOneOf(o.axis, 'axis', ['batch', 'spatial'] as const),
    audit: o.audit === undefined ? D.audit : expectBoolean(o.audit, 'audit'),
    auditSamples:
      o.auditSamples === undefined ? D.auditSamples : expectNonNegativeInteger(o.auditSamples, 'auditSamples'),
    device: (o.device === undefined ? D.device : expectDevice(o.device)) as Device,
    numWorkers: o.numWorkers === undefined ? D.numWorkers : expectInteger(o.numWorkers, 'numWorkers', 0, 64),
    metricsLog: o.metricsLog === undefined ? undefined : expectNonEmptyString(o.metricsLog, 'metricsLog'),
    checkpointDir: o.checkpointDir === undefined ? undefined : expectNonEmptyString(o.checkpointDir, 'checkpointDir'),
    keepCheckpoints: o.keepCheckpoints === undefined ? false : expectBoolean(o.keepCheckpoints, 'keepCheckpoints'),
    ...expectResume(o.resume),
    warmupSteps: o.warmupSteps === undefined ? undefined : expectNonNegativeInteger(o.warmupSteps, 'warmupSteps'),
    signal: expectAbortSignal(o.signal),
    strengths: expectStrengths(o.strengths),
    onRunStart: expectCallback<NonNullable<ComparisonOptions['onRunStart']>>(o.onRunStart, 'onRunStart'),
    onStep: expectCallback<NonNullable<ComparisonOptions['onStep']>>(o.onStep, 'onStep'),
    onEpoch: expectCallback<NonNullable<ComparisonOptions['onEpoch']>>(o.onEpoch, 'onEpoch'),
    onRunEnd: expectCallback<NonNullable<ComparisonOptions['onRunEnd']>>(o.onRunEnd, 'onRunEnd'),
    onMessage:
      expectCallback<NonNullable<ComparisonOptions['onMessage']>>(o.onMessage, 'onMessage') ?? (() => undefined),
    train: expectDataset(o.train, 'train'),
    test: expectDataset(o.test, 'test'),
    datasetName: o.datasetName === undefined ? undefined : expectNonEmptyString(o.datasetName, 'datasetName'),
    model: o.model === undefined ? undefined : expectOneOf(o.model, 'model', listModels()),
  };
}
