// The Trainer's options: what a user passes, the fully defaulted public view of it
// (`trainer.options`), and the flat struct the native trainer copies.
import type { NativeTrainerOptions } from '../binding';
import { OPTIMIZER_DEFAULTS } from '../defaults';
import type { DistributedOption } from '../distributed';
import { seedOrRandom } from '../seeds';
import {
  expectBoolean,
  expectInteger,
  expectKnownKeys,
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

export interface OptimizerOptions {
  /** 'adamw' (default) or 'sgd'. Weight decay never applies to norms, biases, cls_token or pos_embed. */
  name?: 'adamw' | 'sgd';
  /** Peak learning rate. Default 1e-3 (adamw), 0.1 (sgd). */
  lr?: number;
  /** Decoupled (adamw) or L2 (sgd) weight decay. Default 0.05 (adamw), 5e-4 (sgd). */
  weightDecay?: number;
  /** SGD momentum. Default 0.9. */
  momentum?: number;
  /** SGD Nesterov momentum (needs momentum > 0). Default false. */
  nesterov?: boolean;
  /** AdamW betas. Default [0.9, 0.999]. */
  betas?: [number, number];
  /** AdamW epsilon. Default 1e-8. */
  eps?: number;
}

export interface ScheduleOptions {
  /**
   * 'cosine' (default): from the peak rate after warmup down to minLr, reached exactly at the
   * last step of the schedule's span. 'step': the peak rate times gamma every stepSize steps.
   * 'constant': the peak rate.
   */
  name?: 'cosine' | 'step' | 'constant';
  /** Steps of linear warmup to the peak rate, at the start of the span (peak / warmupSteps first). Default 0. */
  warmupSteps?: number;
  /** Cosine floor, at most optimizer.lr. Default 0. */
  minLr?: number;
  /** Step schedule: steps between decays, counted from the first step of the span (warmup included). Default 1000. */
  stepSize?: number;
  /** Step schedule: decay factor. Default 0.1. */
  gamma?: number;
  /**
   * The steps the schedule spans, from the trainer's first step; past them the rate stays at
   * the last step's. When absent, each fit spans its own steps (its epochs x batches per
   * epoch), from its first: a second fit restarts warmup and decay. A cosine schedule without
   * it has no span before the first fit (`learningRate()` and `step()` throw until then).
   */
  totalSteps?: number;
}

export interface TrainerOptions {
  optimizer?: OptimizerOptions;
  schedule?: ScheduleOptions;
  /** Label smoothing in [0, 1). Default 0. */
  labelSmoothing?: number;
  /** Clip the global gradient norm to this value; 0 (default) disables clipping. */
  clipGradNorm?: number;
  /** bf16 autocast on CUDA. Default false; the model must be on a CUDA device. */
  mixedPrecision?: boolean;
  /** Seeds dropout/drop-path per step, so a resumed run replays an uninterrupted one. Default: random. */
  seed?: number | bigint;
  /**
   * CPU threads for this trainer's steps and evaluations (the OpenMP team of the native thread
   * it runs them on), from 1 to 1024. Default: libtorch's, every core. Small models train faster
   * as several trainers of one thread each, side by side (`noisynn compare` does), than one
   * after another on every core. Other trainers, and work on the JS thread, keep their own.
   */
  threads?: number;
  /**
   * Data-parallel training over several processes (and machines), on PyTorch's c10d: 'env' joins
   * the group that torchrun's variables describe (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), an
   * object names it explicitly. Every rank runs the same program; rank 0's weights and seeds are
   * adopted, gradients are averaged over the ranks in every step, and W ranks with batches of b
   * train as one process with batches of W x b. See docs/distributed.md. Default: none.
   */
  distributed?: DistributedOption;
}

/** {@link OptimizerOptions} with every default filled in. */
export interface ResolvedOptimizerOptions {
  readonly name: 'adamw' | 'sgd';
  readonly lr: number;
  readonly weightDecay: number;
  /** Used by SGD only. */
  readonly momentum: number;
  /** Used by SGD only. */
  readonly nesterov: boolean;
  /** Used by AdamW only. */
  readonly betas: readonly [number, number];
  /** Used by AdamW only. */
  readonly eps: number;
}

/** {@link ScheduleOptions} with every default filled in. */
export interface ResolvedScheduleOptions {
  readonly name: 'cosine' | 'step' | 'constant';
  readonly warmupSteps: number;
  readonly minLr: number;
  readonly stepSize: number;
  readonly gamma: number;
  /** The steps the schedule spans from step 0, or null when not given: each fit then spans its own steps. */
  readonly totalSteps: number | null;
}

/** {@link TrainerOptions} with every default filled in: what `trainer.options` returns. */
export interface ResolvedTrainerOptions {
  readonly optimizer: ResolvedOptimizerOptions;
  readonly schedule: ResolvedScheduleOptions;
  readonly labelSmoothing: number;
  readonly clipGradNorm: number;
  readonly mixedPrecision: boolean;
  /** Decimal string of the 64-bit seed (given, or drawn at random). */
  readonly seed: string;
  /** CPU threads of this trainer, or null for libtorch's default. */
  readonly threads: number | null;
}

const TRAINER_KEYS = [
  'optimizer',
  'schedule',
  'labelSmoothing',
  'clipGradNorm',
  'mixedPrecision',
  'seed',
  'threads',
  'distributed',
];
const OPTIMIZER_KEYS = ['name', 'lr', 'weightDecay', 'momentum', 'nesterov', 'betas', 'eps'];
const SCHEDULE_KEYS = ['name', 'warmupSteps', 'minLr', 'stepSize', 'gamma', 'totalSteps'];

function resolveBetas(value: unknown): readonly [number, number] {
  if (value === undefined) return [0.9, 0.999];
  if (!Array.isArray(value) || value.length !== 2) throw typeError('optimizer.betas', 'array of two numbers', value);
  return [
    expectNumberInRange(value[0], 'optimizer.betas[0]', 0, 0.999999),
    expectNumberInRange(value[1], 'optimizer.betas[1]', 0, 0.999999),
  ];
}

/**
 * Validates trainer options and fills every default, deeply frozen.
 * @throws TypeError / RangeError naming the option, e.g. `optimizer.lr`.
 */
export function resolveTrainerOptions(options: unknown): ResolvedTrainerOptions {
  const o = expectOptions(options);
  expectKnownKeys(o, 'options', TRAINER_KEYS);
  const opt = expectOptions(o.optimizer, 'optimizer');
  expectKnownKeys(opt, 'optimizer', OPTIMIZER_KEYS);
  const name = opt.name === undefined ? 'adamw' : expectOneOf(opt.name, 'optimizer.name', ['adamw', 'sgd'] as const);
  const betas = resolveBetas(opt.betas);
  const sch = expectOptions(o.schedule, 'schedule');
  expectKnownKeys(sch, 'schedule', SCHEDULE_KEYS);
  const labelSmoothing =
    o.labelSmoothing === undefined ? 0 : expectNumberInRange(o.labelSmoothing, 'labelSmoothing', 0, 0.999);
  const defaults = OPTIMIZER_DEFAULTS[name];
  const optimizer: ResolvedOptimizerOptions = {
    name,
    lr: opt.lr === undefined ? defaults.lr : expectPositiveNumber(opt.lr, 'optimizer.lr'),
    weightDecay:
      opt.weightDecay === undefined
        ? defaults.weightDecay
        : expectNonNegativeNumber(opt.weightDecay, 'optimizer.weightDecay'),
    momentum: opt.momentum === undefined ? 0.9 : expectNumberInRange(opt.momentum, 'optimizer.momentum', 0, 1),
    nesterov: opt.nesterov === undefined ? false : expectBoolean(opt.nesterov, 'optimizer.nesterov'),
    betas: Object.freeze(betas),
    eps: opt.eps === undefined ? 1e-8 : expectPositiveNumber(opt.eps, 'optimizer.eps'),
  };
  const schedule: ResolvedScheduleOptions = {
    name:
      sch.name === undefined
        ? 'cosine'
        : expectOneOf(sch.name, 'schedule.name', ['cosine', 'step', 'constant'] as const),
    warmupSteps: sch.warmupSteps === undefined ? 0 : expectNonNegativeInteger(sch.warmupSteps, 'schedule.warmupSteps'),
    totalSteps: sch.totalSteps === undefined ? null : expectPositiveInteger(sch.totalSteps, 'schedule.totalSteps'),
    minLr: sch.minLr === undefined ? 0 : expectNonNegativeNumber(sch.minLr, 'schedule.minLr'),
    stepSize: sch.stepSize === undefined ? 1000 : expectPositiveInteger(sch.stepSize, 'schedule.stepSize'),
    gamma: sch.gamma === undefined ? 0.1 : expectNumberInRange(sch.gamma, 'schedule.gamma', 0, 1),
  };
  if (optimizer.name === 'sgd' && optimizer.nesterov && optimizer.momentum === 0) {
    throw new RangeError(
      'optimizer.nesterov needs optimizer.momentum > 0 (Nesterov momentum is momentum), but it is 0',
    );
  }
  if (schedule.minLr > optimizer.lr) {
    throw rangeError('schedule.minLr', `number at most optimizer.lr (${optimizer.lr})`, schedule.minLr);
  }
  return Object.freeze({
    optimizer: Object.freeze(optimizer),
    schedule: Object.freeze(schedule),
    labelSmoothing,
    clipGradNorm: o.clipGradNorm === undefined ? 0 : expectNonNegativeNumber(o.clipGradNorm, 'clipGradNorm'),
    mixedPrecision: o.mixedPrecision === undefined ? false : expectBoolean(o.mixedPrecision, 'mixedPrecision'),
    seed: seedOrRandom(o.seed, 'seed'),
    threads: o.threads === undefined ? null : expectInteger(o.threads, 'threads', 1, 1024),
  });
}

/** The flat struct the native trainer copies (totalSteps 0: no span until fit sets one). */
export function nativeTrainerOptions(r: ResolvedTrainerOptions): NativeTrainerOptions {
  const { optimizer: opt, schedule: sch } = r;
  return {
    optimizer: opt.name,
    lr: opt.lr,
    weightDecay: opt.weightDecay,
    momentum: opt.momentum,
    nesterov: opt.nesterov,
    beta1: opt.betas[0],
    beta2: opt.betas[1],
    eps: opt.eps,
    schedule: sch.name,
    warmupSteps: sch.warmupSteps,
    totalSteps: sch.totalSteps ?? 0,
    minLr: sch.minLr,
    stepSize: sch.stepSize,
    gamma: sch.gamma,
    labelSmoothing: r.labelSmoothing,
    clipGradNorm: r.clipGradNorm,
    mixedPrecision: r.mixedPrecision,
    seed: r.seed,
    threads: r.threads ?? 0,
  };
}
