// Trainer: training steps off the JS thread, epochs with events, evaluation, checkpoints, resume.
import { EventEmitter } from 'events';
import { promises as fsp } from 'fs';
import * as path from 'path';
import { binding, NativeTrainer } from '../binding';
import { checkpointFiles, commitManifest, CheckpointManifest, readManifest } from '../checkpoint';
import { Batch, DataLoader } from '../dataloader';
import { resolveDistributed } from '../distributed';
import { NoisyModel } from '../models';
import { LogWriter, MetricsLog } from '../run-log';
import { handleOf } from '../tensor';
import {
  expectAbortSignal,
  expectKnownKeys,
  expectNonEmptyString,
  expectNonNegativeInteger,
  expectOptions,
  expectPositiveInteger,
  rangeError,
  typeError,
} from '../validate';
import { TrainerGroup } from './distributed';
import { nativeTrainerOptions, ResolvedTrainerOptions, resolveTrainerOptions, TrainerOptions } from './options';

export interface FitOptions {
  /** Total epochs (a resumed run continues up to this many). */
  epochs: number;
  /** Evaluated after each epoch (loss, top1, top5 in the 'epoch' event and history). */
  validation?: DataLoader;
  /** Save a checkpoint after each epoch here, and resume from the one found here. */
  checkpointDir?: string;
  /** Abort after the current step; fit resolves with aborted: true. */
  signal?: AbortSignal;
  /**
   * Append step and epoch records (JSON lines) to this file. It is opened before training
   * starts: fit rejects naming it when it cannot be appended to.
   */
  metricsLog?: string;
}

export interface StepResult {
  loss: number;
  lr: number;
  /**
   * The global gradient norm before clipping. Computed only when clipping is on
   * (`clipGradNorm` > 0); 0 otherwise, since the norm costs a pass over every gradient.
   */
  gradNorm: number;
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
  /** The gradient norm before clipping; 0 unless `clipGradNorm` > 0 (see {@link StepResult.gradNorm}). */
  gradNorm: number;
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

/** Fit options once validated (the metrics log is opened by the caller). */
interface FitPlan {
  epochs: number;
  validation?: DataLoader;
  checkpointDir?: string;
  signal?: AbortSignal;
}

const FIT_KEYS = ['epochs', 'validation', 'checkpointDir', 'signal', 'metricsLog'];

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
  readonly #native: NativeTrainer;
  #options: ResolvedTrainerOptions;
  #busy = false;
  /** Data-parallel: the group this trainer joins (null when training alone), and the join in flight. */
  readonly #group: TrainerGroup | null = null;
  readonly #ready: Promise<void> = Promise.resolve();

  constructor(model: NoisyModel, options?: TrainerOptions) {
    super();
    if (!(model instanceof NoisyModel)) throw typeError('model', 'NoisyViT or NoisyCNN', model);
    const resolved = resolveTrainerOptions(options);
    if (resolved.mixedPrecision && !model.device.startsWith('cuda')) {
      throw new RangeError(
        `mixedPrecision (bf16 autocast) needs the model on a CUDA device, but it is on ${model.device}`,
      );
    }
    const distributed =
      options?.distributed === undefined ? null : resolveDistributed(options.distributed, model.device);
    this.model = model;
    this.#options = resolved;
    this.#native = new binding.NativeTrainer(model._handle, nativeTrainerOptions(resolved));
    if (distributed !== null) {
      // The rendezvous waits for every rank, off the JS thread; step, evaluate and fit wait for it
      // (and reject with its error). Rank 0's seeds replace random defaults on the other ranks.
      const group = new TrainerGroup(distributed, model.device);
      this.#group = group;
      this.#ready = group.join(this.#native, model).then(({ seed, noiseSeed }) => {
        if (seed !== this.#options.seed) this.#options = Object.freeze({ ...this.#options, seed });
        model._adoptNoiseSeed(noiseSeed);
      });
      this.#ready.catch(() => undefined); // surfaced by the first step, evaluate or fit
    }
  }

  /** The options with every default filled in (e.g. `options.optimizer.betas`). */
  get options(): ResolvedTrainerOptions {
    return this.#options;
  }

  /** This process's rank in its data-parallel group (0 when training alone). */
  get rank(): number {
    return this.#group?.rank ?? 0;
  }

  /** Processes in the data-parallel group (1 when training alone). */
  get worldSize(): number {
    return this.#group?.worldSize ?? 1;
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
    await this.#ready;
    const r = await this.#native.step(b.images._handle, b.labels._handle);
    return { loss: r.loss, lr: r.lr, gradNorm: r.gradNorm, top1: r.correct / r.samples, samples: r.samples };
  }

  /**
   * Loss and top-1 / top-5 accuracy over one pass of `loader`, in eval mode (the model's noise
   * applies only if its `when` is 'eval' or 'always'). The model's mode is restored afterwards.
   */
  async evaluate(loader: DataLoader): Promise<EvalResult> {
    const r = await this._evaluate(expectLoader(loader, 'loader'));
    return { loss: r.loss, top1: r.top1, top5: r.top5, samples: r.samples };
  }

  /**
   * @internal evaluate() plus the per-sample top-1 hits, indexed by dataset index (255 = not seen).
   * `localNoise`: in a group, 'global' noise mixes each rank's batch only (auditLeakage's
   * batch-size-1 pass, where the batch must be the sample itself).
   */
  async _evaluate(
    loader: DataLoader,
    options: { localNoise?: boolean } = {},
  ): Promise<EvalResult & { correctByIndex: Uint8Array }> {
    await this.#ready;
    const wasTraining = this.model.training;
    let correctByIndex: Uint8Array = new Uint8Array(loader.dataset.length).fill(255);
    let lossSum = 0;
    let top1 = 0;
    let top5 = 0;
    let samples = 0;
    try {
      this.model.eval();
      for await (const batch of loader) {
        try {
          // A shard's padding (repeats of other samples) is mixed by the noise but not counted.
          const r = await this.#native.evaluate(
            batch.images._handle,
            batch.labels._handle,
            batch.valid,
            options.localNoise === true,
          );
          lossSum += r.lossSum;
          top1 += r.top1;
          top5 += r.top5;
          samples += r.samples;
          const idx = batch.indices.toTypedArray() as BigInt64Array;
          for (let i = 0; i < r.samples; i++) correctByIndex[Number(idx[i])] = r.correct[i];
        } finally {
          disposeBatch(batch);
        }
      }
    } finally {
      this.model.train(wasTraining);
    }
    // A loader sharded over the group saw 1/worldSize of the data: the totals are the ranks' sums.
    if (this.#group !== null && loader._shard().worldSize > 1) {
      [lossSum, top1, top5, samples] = await this.#group.sum([lossSum, top1, top5, samples]);
      correctByIndex = await this.#group.mergeHits(correctByIndex);
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
   * @throws TypeError / RangeError for bad options; Error when a resume's checkpoint does not fit
   *   the model, or when `metricsLog` cannot be opened or written (the message names its path).
   */
  async fit(train: DataLoader, options: FitOptions): Promise<FitResult> {
    const plan = this.#plan(train, options);
    const metricsLog =
      options.metricsLog === undefined ? undefined : expectNonEmptyString(options.metricsLog, 'metricsLog');
    // In a group only rank 0 writes the log (every rank's records are the global batch's).
    const log = metricsLog === undefined || this.rank !== 0 ? undefined : await MetricsLog.open(metricsLog);
    try {
      return await this.#fit(train, plan, log);
    } finally {
      await log?.close();
    }
  }

  /**
   * @internal fit() writing its step and epoch records to `log`, a writer the caller owns
   * (runComparison's, which tags each record with the run). `options.metricsLog` must be absent.
   */
  async _fit(
    train: DataLoader,
    options: Omit<FitOptions, 'metricsLog'>,
    log: LogWriter | undefined,
  ): Promise<FitResult> {
    return this.#fit(train, this.#plan(train, options), log);
  }

  #plan(train: DataLoader, options: FitOptions): FitPlan {
    expectLoader(train, 'train');
    const o = expectOptions(options);
    if (options === undefined) throw typeError('options', 'object with epochs', options);
    expectKnownKeys(o, 'options', FIT_KEYS);
    const plan: FitPlan = {
      epochs: expectPositiveInteger(o.epochs, 'epochs'),
      validation: o.validation === undefined ? undefined : expectLoader(o.validation, 'validation'),
      checkpointDir: o.checkpointDir === undefined ? undefined : expectNonEmptyString(o.checkpointDir, 'checkpointDir'),
    };
    if (o.metricsLog !== undefined) expectNonEmptyString(o.metricsLog, 'metricsLog');
    plan.signal = expectAbortSignal(o.signal);
    if (train.length === 0)
      throw rangeError('train', 'a loader with at least one batch', `${train.dataset.length} samples`);
    return plan;
  }

  async #fit(train: DataLoader, plan: FitPlan, log: LogWriter | undefined): Promise<FitResult> {
    const { epochs, validation, checkpointDir, signal } = plan;
    if (this.#busy) throw new Error('Trainer.fit is already running on this trainer');
    this.#busy = true;
    try {
      await this.#ready;
      const stepsPerEpoch = train.length;
      if (this.options.schedule.totalSteps === null) this.#native.setTotalSteps(epochs * stepsPerEpoch);
      let history: EpochEvent[] = [];
      let startEpoch = 0;
      let previous: CheckpointManifest | null = null;
      if (checkpointDir !== undefined) {
        await fsp.mkdir(checkpointDir, { recursive: true });
        previous = await readManifest(checkpointDir);
        if (previous) {
          if (previous.seed !== this.options.seed) {
            throw new Error(
              `Cannot resume from ${checkpointDir}: it was trained with seed ${previous.seed}, this trainer has seed ${this.options.seed}`,
            );
          }
          await this.model.loadWeights(path.join(checkpointDir, previous.weights), { strict: true });
          await this.#native.loadState(path.join(checkpointDir, previous.optimizer));
          this.#native.setNoiseOffset(previous.noiseOffset);
          startEpoch = previous.epoch;
          history = previous.history as EpochEvent[];
        }
      }
      const resumedFrom = previous ? previous.epoch : null;

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
            // In a group every rank stops after the same step: the one in which any rank was aborted.
            const stop = this.#group !== null && (signal?.aborted ?? false);
            r = await this.#native.step(batch.images._handle, batch.labels._handle, stop);
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
            gradNorm: r.gradNorm,
            top1: r.correct / r.samples,
            imagesPerSecond: r.samples / (Number(now - windowStart) / 1e9),
          };
          windowStart = now;
          await log?.write({ type: 'step', ...event });
          this.emit('step', event);
          if (this.#group !== null ? r.stop : signal?.aborted) {
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
        await log?.write({ type: 'epoch', ...record });
        // Rank 0 writes checkpoints (the ranks hold the same weights and optimizer state).
        if (checkpointDir !== undefined && this.rank === 0) {
          previous = await this.#saveCheckpoint(checkpointDir, epoch + 1, history, previous);
        }
        this.emit('epoch', record);
        aborted = signal?.aborted ?? false;
        if (this.#group !== null) aborted = await this.#group.any(aborted);
      }
      return { epochs: history.length, steps: this.#native.getStep(), aborted, resumedFrom, history };
    } finally {
      this.#busy = false;
    }
  }

  async #saveCheckpoint(
    dir: string,
    epoch: number,
    history: EpochEvent[],
    previous: CheckpointManifest | null,
  ): Promise<CheckpointManifest> {
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
