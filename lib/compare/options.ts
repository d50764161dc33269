// runComparison's options: what a caller passes, the defaults, and their validation into the
// settings a run uses.
import { Dataset } from '../datasets';
import { OFFICIAL_PROTOCOLS, OfficialProtocol, OPTIMIZER_DEFAULTS, TRAINING_JOB_LR } from '../defaults';
import { listModels, ModelVariantName, OFFICIAL_CNN_NOISE } from '../models';
import { DEFAULT_STRENGTH, NOISE_KINDS, NoiseKind } from '../noise';
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
import type { ComparisonAudit, ComparisonRun } from './summary';

/** Options of {@link runComparison}; every field is optional. */
export interface ComparisonOptions {
  /**
   * 'vit' (default): the mini NoisyViT; 'cnn': the small-stem ResNet-18. Picks the default model
   * and the official protocol the runs are scored under (OFFICIAL_PROTOCOLS).
   */
  family?: 'vit' | 'cnn';
  /**
   * A registered variant (see listModels). Default: by family and image shape,
   * vit_mini_patch7_28 (COMPARISON_MODELS) / vit_mini_patch4_32 or resnet18_small_28 / resnet18_small_32.
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
  /**
   * Seeds, the unit of replication: each seeds the model's initialisation, the data order and the
   * noise, and the table's intervals are over seeds. Default 1 to 8.
   */
  seeds?: readonly number[];
  /** Training epochs over the (sub)set. Default 2. */
  epochs?: number;
  /** Train on a random subset of this many images (0: all). Default 10000. */
  trainSamples?: number;
  /** Test on a random subset of this many images (0: all). Default 5000. */
  testSamples?: number;
  /** Training batch size. Default 64. */
  batchSize?: number;
  /**
   * Batch size of the leak-free evaluation (no noise, shuffled batches). Default 64. The official
   * protocol's passes and the audit use the protocol's own batch size (OFFICIAL_PROTOCOLS: 10 for
   * a ViT, 512 for a CNN).
   */
  evalBatchSize?: number;
  /** AdamW peak learning rate. Default 2e-3 (the training jobs' rate, see TRAINING_JOB_LR). */
  lr?: number;
  /** AdamW weight decay. Default 0.05. */
  weightDecay?: number;
  /** Linear warmup steps before the cosine decay. Default: 5% of the steps, at most 200 (defaultWarmupSteps). */
  warmupSteps?: number;
  /** Label smoothing. Default 0. */
  labelSmoothing?: number;
  /**
   * Per-kind noise strength (linear a, gaussian s, saltPepper p). Default: the op's defaults
   * (DEFAULT_STRENGTH: 0.3, 0.1, 0.1), but linear a = 0.4 for a CNN (the official CNN script's).
   */
  strengths?: Partial<Record<NoiseKind, number>>;
  /** The mixing axis: 'batch' (default, the official code) or 'spatial'. */
  axis?: 'batch' | 'spatial';
  /** Run the leakage audit on every run's model under the official protocol's noise. Default true. */
  audit?: boolean;
  /**
   * Test images the audit uses: a subset of the test images (its batch-size-1 pass is the slow
   * one; 0: all of them). Default 0.
   */
  auditSamples?: number;
  /** 'cpu' (default), 'cuda' or 'cuda:N'. */
  device?: Device;
  /** Native loader threads. Default 1 (the data is in memory; the cores are better spent on the model). */
  numWorkers?: number;
  /**
   * Runs trained at once, side by side, each with `threads / jobs` CPU threads of its own
   * (TrainerOptions.threads; at least 1), from 1 to 64. Default: on CPU as many as libtorch's
   * threads (one thread a run: on 2 cores `noisynn compare --quick` took 44 s as one job of two
   * threads, 16 s as two jobs of one, with the same numbers), at most the number of runs; on CUDA 1. A
   * run's numbers depend on its thread count, not on what runs beside it.
   */
  jobs?: number;
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
    /** The strength of each kind that has one, defaults filled in. */
    strengths: Partial<Record<NoiseKind, number>>;
    trainWhen: 'train';
    /** When the official protocol applies the noise: 'eval' (ViT) or 'always' (CNN). */
    officialWhen: 'eval' | 'always';
    /** Whether the noise term is detached (the official CNN code). */
    detach: boolean;
    /** The noise site, as `model.noise.layer` reads (ViT: block index; CNN: {stage, block}). */
    layer: number | { stage: number; block: number };
    /** Why the site is not the official one, when it is not (a ResNet-18 has no block 2 in layer4). */
    siteNote?: string;
  };
  /** The official protocol of the family: its noise timing and test batches. */
  protocol: OfficialProtocol & { family: 'vit' | 'cnn' };
  normalize: NormalizePreset | null;
  audit: boolean;
  auditSamples: number;
  device: string;
  numWorkers: number;
  /** Runs trained at once, and the CPU threads each had. */
  jobs: number;
  threadsPerJob: number;
}

/** What {@link runComparison} uses when an option is omitted. */
export const COMPARISON_DEFAULTS = {
  family: 'vit' as const,
  kinds: [...NOISE_KINDS],
  // Seeds are the unit of replication: the spread over seeds (1-3 points) is larger than the
  // test-set error, and the table's t intervals need several (t_{0.975, n-1}: 2.78 at 5 seeds,
  // 2.36 at 8). Eight is what fits the 10-minute budget on 2 cores with two runs at a time.
  seeds: [1, 2, 3, 4, 5, 6, 7, 8],
  // 1 epoch over 28,800 images in batches of 64 (450 steps a run): the 7x7-patch mini ViT's
  // step is half the 4x4 one's, and 450 steps take it to ~79% (400: 77.6%). With 4000 test
  // images the whole job fits in 10 minutes on 2 cores (bench/RESULTS.md, main job).
  epochs: 1,
  trainSamples: 28800,
  // 4000 test images: sampling error ~0.7 points, below the spread over seeds; and every kind is
  // scored on the same images, so the comparison between kinds is paired.
  testSamples: 4000,
  batchSize: 64,
  // The leak-free evaluation's batches (shuffled, no noise: the size does not change the scores).
  evalBatchSize: 64,
  // The mini ViT trains from scratch in a few hundred steps: a high rate with a short warmup.
  lr: TRAINING_JOB_LR.adamw,
  weightDecay: OPTIMIZER_DEFAULTS.adamw.weightDecay,
  labelSmoothing: 0,
  axis: 'batch' as const,
  // Every run is audited on the whole test set: a smaller audit misses the leaks worth knowing of.
  audit: true,
  auditSamples: 0,
  device: 'cpu',
  numWorkers: 1,
};

/**
 * The comparison's own default models by image shape, before the family defaults
 * (defaultModelFor): on 28x28 images the mini ViT with 7x7 patches, 16 tokens instead of 49,
 * which trains twice as fast per step and learns more in a few hundred steps (same 205,066
 * parameters).
 */
export const COMPARISON_MODELS: Partial<Record<'vit' | 'cnn', Record<string, ModelVariantName>>> = {
  vit: { '1x28x28': 'vit_mini_patch7_28' },
};

/** `--quick`: the same experiment shrunk to run in about a minute on two CPU cores. */
export const QUICK_COMPARISON: Partial<ComparisonOptions> = {
  seeds: [1, 2],
  epochs: 1,
  trainSamples: 3000,
  testSamples: 1000,
  auditSamples: 300,
};

// The ResNet-18 has 50x the mini ViT's parameters and ~15x its compute per image (~60 images/s
// training on two CPU cores): on a CPU the CNN job shrinks to stay near 10 minutes. Its numbers
// are then a smoke test (47 steps leave BatchNorm's ResNet unsettled); on CUDA it takes the
// full defaults.
/** `noisynn compare --family cnn` on a CPU. */
export const CNN_CPU_COMPARISON: Partial<ComparisonOptions> = {
  seeds: [1, 2],
  epochs: 1,
  trainSamples: 3000,
  testSamples: 500,
  auditSamples: 0,
};

/** `noisynn compare --family cnn --quick` on a CPU. */
export const CNN_CPU_QUICK_COMPARISON: Partial<ComparisonOptions> = {
  seeds: [1, 2],
  epochs: 1,
  trainSamples: 256,
  testSamples: 128,
  auditSamples: 64,
};

/**
 * The strength of each kind in a comparison of `family`: the given ones, else the op's defaults,
 * but the official CNN script's linear a = 0.4 for a CNN.
 */
export function comparisonStrengths(
  family: 'vit' | 'cnn',
  given: Partial<Record<NoiseKind, number>>,
): Partial<Record<NoiseKind, number>> {
  const defaults: Partial<Record<NoiseKind, number>> = {
    linear: family === 'cnn' ? OFFICIAL_CNN_NOISE.strength : DEFAULT_STRENGTH.linear,
    gaussian: DEFAULT_STRENGTH.gaussian,
    saltPepper: DEFAULT_STRENGTH.saltPepper,
  };
  return { ...defaults, ...given };
}

/** The official protocol a comparison of `family` is scored under. */
export function comparisonProtocol(family: 'vit' | 'cnn'): ComparisonConfig['protocol'] {
  return { family, ...OFFICIAL_PROTOCOLS[family] };
}

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
  'jobs',
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
  /** Undefined: by device and threads ({@link ComparisonOptions.jobs}). */
  jobs: number | undefined;
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
    jobs: o.jobs === undefined ? undefined : expectInteger(o.jobs, 'jobs', 1, 64),
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
