// Trainer: training steps off the JS thread, epochs with events, evaluation, checkpoints, resume.
import { EventEmitter } from 'events';
import { createWriteStream, promises as fsp, WriteStream } from 'fs';
import * as path from 'path';
import { binding, NativeTrainer, NativeTrainerOptions } from './binding';
import { checkpointFiles, commitManifest, CheckpointManifest, readManifest } from './checkpoint';
import { Batch, DataLoader } from './dataloader';
import { NoisyModel } from './models';
import { seedOrRandom } from './seeds';
import { handleOf } from './tensor';
import {
  expectBoolean,
  expectKnownKeys,
  expectNonEmptyString,
  expectNonNegativeInteger,
  expectNonNegativeNumber,
  expectNumberInRange,
  expectOneOf,
  expectOptions,
  expectPositiveInteger,
  expectPositiveNumber,
  typeError,
  rangeError,
} from './validate';

export interface OptimizerOptions {
  /** 'adamw' (default) or 'sgd'. Weight decay never applies to norms, biases, cls_token or pos_embed. */
  name?: 'adamw' | 'sgd';
  /** Peak learning rate. Default 1e-3 (adamw), 0.1 (sgd). */
  lr?: number;
  /** Decoupled (adamw) or L2 (sgd) weight decay. Default 0.05 (adamw), 5e-4 (sgd). */
  weightDecay?: number;
  /** SGD momentum. Default 0.9. */
  momentum?: number;
  /** SGD Nesterov momentum. Default false. */
  nesterov?: boolean;
  /** AdamW betas. Default [0.9, 0.999]. */
  betas?: [number, number];
  /** AdamW epsilon. Default 1e-8. */
  eps?: number;
}

export interface ScheduleOptions {
  /** 'cosine' (default; to minLr at the last step of fit), 'step', or 'constant'. */
  name?: 'cosine' | 'step' | 'constant';
  /** Steps of linear warmup to the peak rate. Default 0. */
  warmupSteps?: number;
  /** Cosine floor. Default 0. */
  minLr?: number;
  /** Step schedule: steps between decays. Default 1000. */
  stepSize?: number;
  /** Step schedule: decay factor. Default 0.1. */
  gamma?: number;
  /** Steps the cosine spans; fit sets it to epochs x batches per epoch when absent. */
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
}

export interface FitOptions {
  /** Total epochs (a resumed run continues up to this many). */
  epochs: number;
  /** Evaluated after each epoch (loss, top1, top5 in the 'epoch' event and history). */
  validation?: DataLoader;
  /** Save a checkpoint after each epoch here, and resume from the one found here. */
  checkpointDir?: string;
  /** Abort after the current step; fit resolves with aborted: true. */
  signal?: AbortSignal;
  /** Append step and epoch records (JSON lines) to this file. */
  metricsLog?: string;
}

export interface StepResult {
  loss: number;
  lr: number;
  /** Top-1 accuracy on the batch, in [0, 1]. */
  top1: number;
  samples: number;
}

export interface EvalResult {
  /** Mean cross-entropy (no label smoothing). */
  loss: number;
  /** Fractions in [0, 1]. */
  top1: number;
  top5: number;
  samples: number;
}

export interface StepEvent {
  epoch: number;
  /** Global optimizer step, from 1. */
  step: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  loss: number;
  lr: number;
  top1: number;
  imagesPerSecond: number;
}

export interface EpochEvent {
  /** From 1. */
  epoch: number;
  epochs: number;
  /** Mean training loss and accuracy over the epoch. */
  loss: number;
  top1: number;
  /** Learning rate at the epoch's last step. */
  lr: number;
  imagesPerSecond: number;
  seconds: number;
  validation?: EvalResult;
}

export interface FitResult {
  /** Epochs completed (including those of a checkpoint resumed from). */
  epochs: number;
  steps: number;
  aborted: boolean;
  /** Resumed from this epoch's checkpoint, or null. */
  resumedFrom: number | null;
  history: EpochEvent[];
}

const TRAINER_KEYS = ['optimizer', 'schedule', 'labelSmoothing', 'clipGradNorm', 'mixedPrecision', 'seed'];
const OPTIMIZER_KEYS = ['name', 'lr', 'weightDecay', 'momentum', 'nesterov', 'betas', 'eps'];
const SCHEDULE_KEYS = ['name', 'warmupSteps', 'minLr', 'stepSize', 'gamma', 'totalSteps'];
const FIT_KEYS = ['epochs', 'validation', 'checkpointDir', 'signal', 'metricsLog'];

function normalizeTrainerOptions(options: unknown): NativeTrainerOptions & { totalStepsGiven: boolean } {
  const o = expectOptions(options);
  expectKnownKeys(o, 'options', TRAINER_KEYS);
  const opt = expectOptions(o.optimizer, 'optimizer');
  expectKnownKeys(opt, 'optimizer', OPTIMIZER_KEYS);
  const name = opt.name === undefined ? 'adamw' : expectOneOf(opt.name, 'optimizer.name', ['adamw', 'sgd'] as const);
  const sgd = name === 'sgd';
  let betas: [number, number] = [0.9, 0.999];
  if (opt.betas !== undefined) {
    if (!Array.isArray(opt.betas) || opt.betas.length !== 2) throw typeError('optimizer.betas', 'array of two numbers', opt.betas);
    betas = [expectNumberInRange(opt.betas[0], 'optimizer.betas[0]', 0, 0.999999), expectNumberInRange(opt.betas[1], 'optimizer.betas[1]', 0, 0.999999)];
  }
  const sch = expectOptions(o.schedule, 'schedule');
  expectKnownKeys(sch, 'schedule', SCHEDULE_KEYS);
  const labelSmoothing = o.labelSmoothing === undefined ? 0 : expectNumberInRange(o.labelSmoothing, 'labelSmoothing', 0, 0.999);
  return {
    optimizer: name,
    lr: opt.lr === undefined ? (sgd ? 0.1 : 1e-3) : expectPositiveNumber(opt.lr, 'optimizer.lr'),
    weightDecay: opt.weightDecay === undefined ? (sgd ? 5e-4 : 0.05) : expectNonNegativeNumber(opt.weightDecay, 'optimizer.weightDecay'),
    momentum: opt.momentum === undefined ? 0.9 : expectNumberInRange(opt.momentum, 'optimizer.momentum', 0, 1),
    nesterov: opt.nesterov === undefined ? false : expectBoolean(opt.nesterov, 'optimizer.nesterov'),
    beta1: betas[0],
    beta2: betas[1],
    eps: opt.eps === undefined ? 1e-8 : expectPositiveNumber(opt.eps, 'optimizer.eps'),
    schedule: sch.name === undefined ? 'cosine' : expectOneOf(sch.name, 'schedule.name', ['cosine', 'step', 'constant'] as const),
    warmupSteps: sch.warmupSteps === undefined ? 0 : expectNonNegativeInteger(sch.warmupSteps, 'schedule.warmupSteps'),
    totalSteps: sch.totalSteps === undefined ? 0 : expectPositiveInteger(sch.totalSteps, 'schedule.totalSteps'),
    totalStepsGiven: sch.totalSteps !== undefined,
    minLr: sch.minLr === undefined ? 0 : expectNonNegativeNumber(sch.minLr, 'schedule.minLr'),
    stepSize: sch.stepSize === undefined ? 1000 : expectPositiveInteger(sch.stepSize, 'schedule.stepSize'),
    gamma: sch.gamma === undefined ? 0.1 : expectNumberInRange(sch.gamma, 'schedule.gamma', 0, 1),
    labelSmoothing,
    clipGradNorm: o.clipGradNorm === undefined ? 0 : expectNonNegativeNumber(o.clipGradNorm, 'clipGradNorm'),
    mixedPrecision: o.mixedPrecision === undefined ? false : expectBoolean(o.mixedPrecision, 'mixedPrecision'),
    seed: seedOrRandom(o.seed, 'seed'),
  };
}

function expectLoader(value: unknown, name: string): DataLoader {
  if (!(value instanceof DataLoader)) throw typeError(name, 'DataLoader', value);
  return value;
}

function expectBatch(value: unknown): Batch {
  const b = expectOptions(value, 'batch');
  if (value === undefined) throw typeError('batch', 'object with images and labels', value);
  handleOf(b.images, 'batch.images');
  handleOf(b.labels, 'batch.labels');
  return b as unknown as Batch;
}

/**
 * Trains a NoisyViT or NoisyCNN. Every step (forward, loss, backward, clip, optimizer step,
 * schedule) runs on a native thread; the JS thread only sequences steps and emits events.
 *
 * Events: 'step' ({@link StepEvent}) after every step, 'epoch' ({@link EpochEvent}) after each epoch.
 *
 * @throws TypeError / RangeError for bad options, e.g. `Expected positive finite number for optimizer.lr but received 0 (number)`.
 * @example
 * const trainer = new Trainer(model, { optimizer: { name: 'adamw', lr: 2e-3 }, schedule: { name: 'cosine', warmupSteps: 100 }, seed: 1 });
 * trainer.on('epoch', (e) => console.log(e.epoch, e.loss, e.validation?.top1));
 * await trainer.fit(trainLoader, { epochs: 5, validation: testLoader, checkpointDir: 'runs/ckpt' });
 * const { top1 } = await trainer.evaluate(testLoader);
 */
export class Trainer extends EventEmitter {
  readonly model: NoisyModel;
  readonly options: Readonly<NativeTrainerOptions>;
  readonly #native: NativeTrainer;
  readonly #totalStepsGiven: boolean;
  #busy = false;

  constructor(model: NoisyModel, options?: TrainerOptions) {
    super();
    if (!(model instanceof NoisyModel)) throw typeError('model', 'NoisyViT or NoisyCNN', model);
    const { totalStepsGiven, ...native } = normalizeTrainerOptions(options);
    if (native.mixedPrecision && !model.device.startsWith('cuda')) {
      throw new RangeError(`mixedPrecision (bf16 autocast) needs the model on a CUDA device, but it is on ${model.device}`);
    }
    this.model = model;
    this.options = Object.freeze(native);
    this.#totalStepsGiven = totalStepsGiven;
    this.#native = new binding.NativeTrainer(model._handle, native);
  }

  /** Optimizer steps taken so far. */
  get globalStep(): number {
    return this.#native.getStep();
  }

  /** The learning rate the schedule gives optimizer step `step` (0-based). */
  learningRate(step: number): number {
    return this.#native.lrAt(expectNonNegativeInteger(step, 'step'));
  }

  /**
   * One optimizer step on a batch (train mode), for users who write their own loop.
   * @throws TypeError unless batch.images and batch.labels are Tensors.
   */
  async step(batch: { images: unknown; labels: unknown }): Promise<StepResult> {
    const b = expectBatch(batch);
    const r = await this.#native.step(b.images._handle, b.labels._handle);
    return { loss: r.loss, lr: r.lr, top1: r.correct / r.samples, samples: r.samples };
  }

  /**
   * Loss and top-1 / top-5 accuracy over one pass of `loader`, in eval mode (the model's noise
   * applies only if its `when` is 'eval' or 'always'). The model's mode is restored afterwards.
   */
  async evaluate(loader: DataLoader): Promise<EvalResult> {
    const r = await this._evaluate(expectLoader(loader, 'loader'));
    return { loss: r.loss, top1: r.top1, top5: r.top5, samples: r.samples };
  }

  /** @internal evaluate() plus the per-sample top-1 hits, indexed by dataset index (255 = not seen). */
  async _evaluate(loader: DataLoader): Promise<EvalResult & { correctByIndex: Uint8Array }> {
    const wasTraining = this.model.training;
    const correctByIndex = new Uint8Array(loader.dataset.length).fill(255);
    let lossSum = 0;
    let top1 = 0;
    let top5 = 0;
    let samples = 0;
    try {
      this.model.eval();
      for await (const batch of loader) {
        try {
          const r = await this.#native.evaluate(batch.images._handle, batch.labels._handle);
          lossSum += r.lossSum;
          top1 += r.top1;
          top5 += r.top5;
          samples += r.samples;
          const idx = batch.indices.toTypedArray() as BigInt64Array;
          for (let i = 0; i < idx.length; i++) correctByIndex[Number(idx[i])] = r.correct[i];
        } finally {
          disposeBatch(batch);
        }
      }
    } finally {
      this.model.train(wasTraining);
    }
    if (samples === 0) throw new RangeError('Cannot evaluate on an empty loader (0 samples)');
    return { loss: lossSum / samples, top1: top1 / samples, top5: top5 / samples, samples, correctByIndex };
  }

  /**
   * Trains for `epochs` epochs over `train`, evaluating `validation` after each, saving a
   * checkpoint after each when `checkpointDir` is set. If that directory already holds a
   * checkpoint, training resumes after its epoch (weights, optimizer, schedule, noise RNG): on
   * CPU the resumed run's losses equal an uninterrupted run's with the same seeds.
   *
   * @throws TypeError / RangeError for bad options; Error when a resume's checkpoint does not fit the model.
   */
  async fit(train: DataLoader, options: FitOptions): Promise<FitResult> {
    expectLoader(train, 'train');
    const o = expectOptions(options);
    if (options === undefined) throw typeError('options', 'object with epochs', options);
    expectKnownKeys(o, 'options', FIT_KEYS);
    const epochs = expectPositiveInteger(o.epochs, 'epochs');
    const validation = o.validation === undefined ? undefined : expectLoader(o.validation, 'validation');
    const checkpointDir = o.checkpointDir === undefined ? undefined : expectNonEmptyString(o.checkpointDir, 'checkpointDir');
    const metricsLog = o.metricsLog === undefined ? undefined : expectNonEmptyString(o.metricsLog, 'metricsLog');
    const signal = o.signal as AbortSignal | undefined;
    if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
      throw typeError('signal', 'AbortSignal', signal);
    }
    if (train.length === 0) throw rangeError('train', 'a loader with at least one batch', `${train.dataset.length} samples`);
    if (this.#busy) throw new Error('Trainer.fit is already running on this trainer');
    this.#busy = true;

    const stepsPerEpoch = train.length;
    if (!this.#totalStepsGiven) this.#native.setTotalSteps(epochs * stepsPerEpoch);
    let log: WriteStream | undefined;
    try {
      let history: EpochEvent[] = [];
      let startEpoch = 0;
      let previous: CheckpointManifest | null = null;
      if (checkpointDir !== undefined) {
        await fsp.mkdir(checkpointDir, { recursive: true });
        previous = await readManifest(checkpointDir);
        if (previous) {
          if (previous.seed !== this.options.seed) {
            throw new Error(`Cannot resume from ${checkpointDir}: it was trained with seed ${previous.seed}, this trainer has seed ${this.options.seed}`);
          }
          await this.model.loadWeights(path.join(checkpointDir, previous.weights), { strict: true });
          await this.#native.loadState(path.join(checkpointDir, previous.optimizer));
          this.#native.setNoiseOffset(previous.noiseOffset);
          startEpoch = previous.epoch;
          history = previous.history as EpochEvent[];
        }
      }
      const resumedFrom = previous ? previous.epoch : null;
      if (metricsLog !== undefined) {
        await fsp.mkdir(path.dirname(path.resolve(metricsLog)), { recursive: true });
        log = createWriteStream(metricsLog, { flags: 'a' });
      }
      const write = (record: object) => log?.write(JSON.stringify({ ...record, time: new Date().toISOString() }) + '\n');

      let aborted = signal?.aborted ?? false;
      for (let epoch = startEpoch; epoch < epochs && !aborted; epoch++) {
        this.model.train();
        train.setEpoch(epoch);
        const started = process.hrtime.bigint();
        let lossSum = 0;
        let correct = 0;
        let samples = 0;
        let lr = 0;
        let stepInEpoch = 0;
        let windowStart = started;
        for await (const batch of train) {
          let r;
          try {
            r = await this.#native.step(batch.images._handle, batch.labels._handle);
          } finally {
            disposeBatch(batch);
          }
          const now = process.hrtime.bigint();
          stepInEpoch++;
          lossSum += r.loss * r.samples;
          correct += r.correct;
          samples += r.samples;
          lr = r.lr;
          const event: StepEvent = {
            epoch: epoch + 1,
            step: this.#native.getStep(),
            stepInEpoch,
            stepsPerEpoch,
            loss: r.loss,
            lr: r.lr,
            top1: r.correct / r.samples,
            imagesPerSecond: r.samples / (Number(now - windowStart) / 1e9),
          };
          windowStart = now;
          write({ type: 'step', ...event });
          this.emit('step', event);
          if (signal?.aborted) {
            aborted = true;
            break;
          }
        }
        if (aborted) break;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const record: EpochEvent = {
          epoch: epoch + 1,
          epochs,
          loss: lossSum / samples,
          top1: correct / samples,
          lr,
          imagesPerSecond: samples / seconds,
          seconds,
        };
        if (validation) record.validation = await this.evaluate(validation);
        history.push(record);
        write({ type: 'epoch', ...record });
        if (checkpointDir !== undefined) {
          previous = await this.#saveCheckpoint(checkpointDir, epoch + 1, history, previous);
        }
        this.emit('epoch', record);
        aborted = signal?.aborted ?? false;
      }
      return { epochs: history.length, steps: this.#native.getStep(), aborted, resumedFrom, history };
    } finally {
      this.#busy = false;
      if (log) await new Promise<void>((resolve) => log!.end(resolve));
    }
  }

  async #saveCheckpoint(dir: string, epoch: number, history: EpochEvent[], previous: CheckpointManifest | null): Promise<CheckpointManifest> {
    const files = checkpointFiles(epoch);
    await this.model.saveWeights(path.join(dir, files.weights));
    await this.#native.saveState(path.join(dir, files.optimizer));
    const manifest: CheckpointManifest = {
      format: 'noisynn-checkpoint',
      version: 1,
      epoch,
      step: this.#native.getStep(),
      weights: files.weights,
      optimizer: files.optimizer,
      noiseOffset: this.#native.noiseOffset(),
      seed: this.options.seed,
      history,
      time: new Date().toISOString(),
    };
    await commitManifest(dir, manifest, previous);
    return manifest;
  }
}

function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  batch.labels.dispose();
  batch.indices.dispose();
}
