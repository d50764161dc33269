// Trainer: training steps off the JS thread, epochs with events, evaluation, checkpoints, resume.
import { EventEmitter } from 'events';
import { existsSync } from 'fs';
import * as path from 'path';
import { binding, NativeTrainer } from '../binding';
import { checkpointFiles, commitManifest, CheckpointFit, CheckpointManifest, readManifest } from '../checkpoint';
import { DataLoader } from '../dataloader';
import { resolveDistributed } from '../distributed';
import { NoisyModel } from '../models';
import { prepareOutputDir } from '../output-paths';
import { LogRecord, LogWriter, MetricsLog } from '../run-log';
import {
  expectAbortSignal,
  expectKnownKeys,
  expectNonEmptyString,
  expectNonNegativeInteger,
  expectOptions,
  expectPositiveInteger,
  typeError,
} from '../validate';
import { TrainerGroup } from './distributed';
import { disposeBatch, evaluatePass } from './evaluate';
import { expectBatch, expectLoader } from './inputs';
import { nativeTrainerOptions, ResolvedTrainerOptions, resolveTrainerOptions, TrainerOptions } from './options';
import { checkpointMismatches, describeTrainer, expectSameFit, fitFinished } from './resume';
import type { EpochEvent, EvalResult, FitOptions, FitResult, StepEvent, StepResult } from './types';

/** Fit options once validated (the metrics log is opened by the caller). */
interface FitPlan {
  epochs: number;
  validation?: DataLoader;
  checkpointDir?: string;
  signal?: AbortSignal;
}

const FIT_KEYS = ['epochs', 'validation', 'checkpointDir', 'signal', 'metricsLog'];

/**
 * Trains a NoisyViT or NoisyCNN. Every step (forward, loss, backward, clip, optimizer step,
 * schedule) runs on a native thread; the JS thread only sequences steps and emits events.
 *
 * Each `fit(train, { epochs })` trains `epochs` more epochs; epochs and steps count on across
 * calls. Unless `schedule.totalSteps` is given, each fit's learning-rate schedule (warmup, then
 * the decay) spans that fit's own steps, so a second fit restarts it. With `totalSteps`, one
 * schedule spans steps 0 to totalSteps - 1 of the trainer, whichever fits run them, and stays
 * at its last rate after them.
 *
 * One training or evaluation at a time per model: `step()`, `evaluate()` or another `fit()`
 * while a fit runs (on this trainer or another one of the same model), and `model.dispose()`,
 * are refused with an Error.
 *
 * Events: 'step' ({@link StepEvent}) after every step, 'epoch' ({@link EpochEvent}) after each epoch.
 *
 * @throws TypeError / RangeError for bad options, e.g. `Expected positive finite number for optimizer.lr but received 0 (number)`.
 * @example
 * const trainer = new Trainer(model, { optimizer: { name: 'adamw', lr: 2e-3 }, schedule: { name: 'cosine', warmupSteps: 100 }, seed: 1 });
 * trainer.on('epoch', (e) => console.log(e.epoch, e.loss, e.validation?.top1));
 * await trainer.fit(trainLoader, { epochs: 5, validation: testLoader, checkpointDir: 'runs/ckpt' });
 * await trainer.fit(trainLoader, { epochs: 2 }); // epochs 6 and 7, with a schedule of their own
 * const { top1 } = await trainer.evaluate(testLoader);
 */
export class Trainer extends EventEmitter {
  readonly model: NoisyModel;
  #options: ResolvedTrainerOptions;
  readonly #native: NativeTrainer;
  /** Data-parallel: the group this trainer joins (null when training alone), and the join in flight. */
  readonly #group: TrainerGroup | null = null;
  readonly #ready: Promise<void> = Promise.resolve();
  #fitting = false;
  #epochs = 0;
  #history: EpochEvent[] = [];
  // The checkpoint this trainer's state equals (written or loaded by it), if any.
  #checkpoint: { dir: string; step: number } | null = null;

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
      // The rendezvous waits for every rank, off the JS thread; step, evaluate, fit and
      // loadCheckpoint wait for it (and reject with its error). Rank 0's seeds replace random
      // defaults on the other ranks.
      const group = new TrainerGroup(distributed, model.device);
      this.#group = group;
      this.#ready = group.join(this.#native, model).then(({ seed, noiseSeed }) => {
        if (seed !== this.#options.seed) this.#options = Object.freeze({ ...this.#options, seed });
        model._adoptNoiseSeed(noiseSeed);
      });
      this.#ready.catch(() => undefined); // surfaced by the first step, evaluate, fit or loadCheckpoint
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

  /** Optimizer steps taken so far (by every fit and step, and a loaded checkpoint's). */
  get globalStep(): number {
    return this.#native.getStep();
  }

  /** Epochs completed so far, by every fit (and a loaded checkpoint's). */
  get completedEpochs(): number {
    return this.#epochs;
  }

  /** The record of every completed epoch, earlier fits' and a loaded checkpoint's included. */
  get history(): readonly EpochEvent[] {
    return [...this.#history];
  }

  /**
   * The learning rate of global optimizer step `step` (0-based). Without `schedule.totalSteps`
   * the schedule spans the current (or last) fit, from its first step.
   * @throws RangeError for a step before that span; Error for a cosine schedule without
   *   `schedule.totalSteps` before any fit (fit sets its span).
   */
  learningRate(step: number): number {
    return this.#native.lrAt(expectNonNegativeInteger(step, 'step'));
  }

  /**
   * One optimizer step on a batch (train mode), for users who write their own loop. The rate is
   * that of the last fit's schedule (past its end: its last rate); a cosine schedule needs
   * `schedule.totalSteps` when no fit has run.
   * @throws TypeError unless batch.images and batch.labels are Tensors; RangeError for images that
   *   are not floating point of the model's input shape on its device, for non-integer labels, or
   *   labels outside [0, numClasses); Error while a fit runs.
   */
  async step(batch: { images: unknown; labels: unknown }): Promise<StepResult> {
    const b = expectBatch(batch, this.model);
    await this.#ready;
    const release = this.model._claim('Trainer.step');
    try {
      const r = await this.#native.step(b.images._handle, b.labels._handle);
      return { loss: r.loss, lr: r.lr, gradNorm: r.gradNorm, top1: r.correct / r.samples, samples: r.samples };
    } finally {
      release();
    }
  }

  /**
   * Loss and top-1 / top-5 accuracy over one pass of `loader`, in eval mode (the model's noise
   * applies only if its `when` is 'eval' or 'always'). The model's mode is restored afterwards.
   * @throws RangeError when the loader's data has more classes than the model's numClasses;
   *   Error while a fit runs.
   */
  async evaluate(loader: DataLoader): Promise<EvalResult> {
    const r = await this._evaluate(expectLoader(loader, 'loader', this.model));
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
    expectLoader(loader, 'loader', this.model);
    await this.#ready;
    const release = this.model._claim('Trainer.evaluate');
    try {
      return (await evaluatePass(this.#native, this.model, loader, undefined, {
        group: this.#group,
        localNoise: options.localNoise,
      }))!;
    } finally {
      release();
    }
  }

  /**
   * Trains `epochs` more epochs over `train`, evaluating `validation` after each, saving a
   * checkpoint after each when `checkpointDir` is set.
   *
   * If that directory already holds a checkpoint, the fit it belongs to is continued after its
   * epoch (weights, optimizer, schedule, noise RNG), into a trainer that has not trained yet: on
   * CPU the resumed run's losses equal an uninterrupted run's with the same seeds. The resume
   * must ask for the same `epochs` and batches per epoch, with the same model, optimizer,
   * schedule and seed; all of that is checked before anything is loaded. Resuming a finished
   * fit trains nothing (a script run again does not train again); to train further from a
   * finished checkpoint, {@link Trainer.loadCheckpoint} it first: fit then trains `epochs` more. A
   * trainer's own latest checkpoint in the folder is simply continued.
   *
   * @throws TypeError / RangeError for bad options, an empty loader, or data with more classes
   *   than the model's numClasses; Error when a resume's checkpoint does not fit (the message
   *   says what differs), when this trainer has already trained and the folder holds another
   *   checkpoint, when a loader is disposed, while another fit or evaluation uses the model, or
   *   when `metricsLog` or `checkpointDir` cannot be written (the message names the path).
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

  /**
   * Restores the checkpoint in `dir` (weights, optimizer state, step and epoch counters, noise
   * RNG, history) into this trainer, which must not have trained yet, so that later fits train
   * on from it: e.g. further epochs after a finished fit, with a schedule of their own. The
   * model and the optimizer's kind must match the checkpoint's (checked before anything is
   * loaded); other options may differ.
   * @throws Error when `dir` holds no checkpoint, when it does not fit (saying what differs), or
   *   when this trainer has already trained.
   * @example
   * const trainer = new Trainer(model, { seed: 1 });
   * await trainer.loadCheckpoint('runs/ckpt'); // a finished 5-epoch fit
   * await trainer.fit(train, { epochs: 3, checkpointDir: 'runs/ckpt' }); // epochs 6 to 8
   */
  async loadCheckpoint(dir: string): Promise<void> {
    const d = expectNonEmptyString(dir, 'dir');
    const manifest = await readManifest(d);
    if (manifest === null) throw new Error(`Cannot load a checkpoint from ${d}: it holds no checkpoint.json`);
    await this.#ready; // after rank 0's weights were adopted: every rank then loads the same files
    const release = this.model._claim('Trainer.loadCheckpoint');
    try {
      await this.#restore(d, manifest, false);
    } finally {
      release();
    }
  }

  #plan(train: DataLoader, options: FitOptions): FitPlan {
    expectLoader(train, 'train', this.model);
    const o = expectOptions(options);
    if (options === undefined) throw typeError('options', 'object with epochs', options);
    expectKnownKeys(o, 'options', FIT_KEYS);
    const plan: FitPlan = {
      epochs: expectPositiveInteger(o.epochs, 'epochs'),
      validation: o.validation === undefined ? undefined : expectLoader(o.validation, 'validation', this.model),
      checkpointDir: o.checkpointDir === undefined ? undefined : expectNonEmptyString(o.checkpointDir, 'checkpointDir'),
    };
    if (o.metricsLog !== undefined) expectNonEmptyString(o.metricsLog, 'metricsLog');
    plan.signal = expectAbortSignal(o.signal);
    return plan;
  }

  #expectUntrained(dir: string): void {
    if (this.globalStep > 0 || this.#epochs > 0) {
      throw new Error(
        `Cannot resume from ${dir}: this trainer has already trained (${this.globalStep} steps); ` +
          'load or resume a checkpoint into a new Trainer',
      );
    }
  }

  // Loads a checkpoint into this untrained trainer, after checking everything that must match.
  async #restore(dir: string, m: CheckpointManifest, sameFit: boolean): Promise<void> {
    this.#expectUntrained(dir);
    const differences = checkpointMismatches(m, this.options, this.model, sameFit);
    if (differences.length > 0) {
      throw new Error(`Cannot resume from ${dir}: ${differences.join('; ')}. Nothing was loaded`);
    }
    for (const file of [m.weights, m.optimizer]) {
      if (!existsSync(path.join(dir, file))) {
        throw new Error(`Cannot resume from ${dir}: its checkpoint file ${file} is missing. Nothing was loaded`);
      }
    }
    // The optimizer state first: its load can fail on a damaged file, while a strict loadWeights
    // either loads everything or changes nothing, so the model is never left half-resumed.
    await this.#native.loadState(path.join(dir, m.optimizer));
    // Through the handle: the model is claimed by this trainer's fit or loadCheckpoint.
    await this.model._handle.loadWeights(path.join(dir, m.weights), true);
    this.#native.setNoiseOffset(m.noiseOffset);
    if (this.options.schedule.totalSteps === null) {
      this.#native.setScheduleSpan(m.fit.startStep, m.fit.epochs * m.fit.stepsPerEpoch);
    }
    this.#epochs = m.epoch;
    this.#history = m.history as EpochEvent[];
    this.#checkpoint = { dir: path.resolve(dir), step: m.step };
  }

  async #fit(train: DataLoader, plan: FitPlan, log: LogWriter | undefined): Promise<FitResult> {
    const { validation, checkpointDir, signal } = plan;
    if (this.#fitting) throw new Error('Trainer.fit is already running on this trainer');
    await this.#ready;
    const release = this.model._claim('Trainer.fit');
    this.#fitting = true;
    try {
      // Datasets load now (ImageFolder may skip images, which changes the batch count), so a
      // missing or corrupt file fails before the first step.
      await train._native();
      await validation?._native();
      const stepsPerEpoch = train.length;
      if (stepsPerEpoch === 0) {
        throw new RangeError(
          `Expected a loader with at least one batch for train but it has none (its dataset has ${train.dataset.length} samples` +
            `${train.dropLast ? `, fewer than batchSize ${train.batchSize} with dropLast` : ''})`,
        );
      }
      let fit: CheckpointFit = {
        startEpoch: this.#epochs,
        startStep: this.globalStep,
        epochs: plan.epochs,
        stepsPerEpoch,
      };
      let previous: CheckpointManifest | null = null;
      let resumedFrom: number | null = null;
      if (checkpointDir !== undefined) {
        prepareOutputDir(checkpointDir, 'checkpointDir');
        previous = await readManifest(checkpointDir);
        const own =
          previous !== null &&
          this.#checkpoint?.dir === path.resolve(checkpointDir) &&
          this.#checkpoint.step === previous.step &&
          previous.step === this.globalStep;
        // A checkpoint other than this trainer's own finished one: continue its fit.
        if (previous !== null && !(own && fitFinished(previous))) {
          if (!own) this.#expectUntrained(checkpointDir);
          expectSameFit(checkpointDir, previous.fit, previous.epoch, plan.epochs, stepsPerEpoch);
          if (!own) await this.#restore(checkpointDir, previous, true);
          fit = previous.fit;
          resumedFrom = previous.epoch;
        }
      }
      if (this.options.schedule.totalSteps === null) {
        this.#native.setScheduleSpan(fit.startStep, fit.epochs * stepsPerEpoch);
      }
      const lastEpoch = fit.startEpoch + fit.epochs;
      const history = this.#history.filter((e) => e.epoch > fit.startEpoch);

      let aborted = signal?.aborted ?? false;
      while (this.#epochs < lastEpoch && !aborted) {
        const epoch = this.#epochs + 1;
        this.model.train();
        train.setEpoch(epoch - 1);
        const started = process.hrtime.bigint();
        let lossSum = 0;
        let correct = 0;
        let samples = 0;
        let lr = 0;
        let stepInEpoch = 0;
        let windowStart = started;
        // With checkpoints, an epoch's step records wait for its checkpoint (see FitOptions.metricsLog).
        const pending: LogRecord[] = [];
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
            epoch,
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
          if (checkpointDir === undefined) await log?.write({ type: 'step', ...event });
          else pending.push({ type: 'step', ...event });
          this.emit('step', event);
          if (this.#group !== null ? r.stop : signal?.aborted) {
            aborted = true;
            break;
          }
        }
        if (aborted) break;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const record: EpochEvent = {
          epoch,
          epochs: lastEpoch,
          loss: lossSum / samples,
          top1: correct / samples,
          lr,
          imagesPerSecond: samples / seconds,
          seconds,
        };
        if (validation) {
          const v = await evaluatePass(this.#native, this.model, validation, signal, { group: this.#group });
          if (v === null) aborted = true;
          else record.validation = { loss: v.loss, top1: v.top1, top5: v.top5, samples: v.samples };
        }
        this.#epochs = epoch;
        this.#history.push(record);
        history.push(record);
        for (const line of pending) await log?.write(line);
        await log?.write({ type: 'epoch', ...record });
        // In a group rank 0 writes the checkpoint (the ranks hold the same state); the others
        // take it as theirs. The agreement below keeps them from going on before it is committed.
        if (checkpointDir !== undefined && this.rank === 0) {
          previous = await this.#saveCheckpoint(checkpointDir, fit, previous);
        } else if (checkpointDir !== undefined) {
          this.#checkpoint = { dir: path.resolve(checkpointDir), step: this.#native.getStep() };
        }
        this.emit('epoch', record);
        aborted = aborted || (signal?.aborted ?? false);
        if (this.#group !== null) aborted = await this.#group.any(aborted);
      }
      return {
        epochs: this.#epochs,
        steps: this.#native.getStep(),
        startEpoch: fit.startEpoch,
        aborted,
        resumedFrom,
        history,
      };
    } finally {
      this.#fitting = false;
      release();
    }
  }

  async #saveCheckpoint(
    dir: string,
    fit: CheckpointFit,
    previous: CheckpointManifest | null,
  ): Promise<CheckpointManifest> {
    const files = checkpointFiles(this.#epochs);
    await this.model._handle.saveWeights(path.join(dir, files.weights));
    await this.#native.saveState(path.join(dir, files.optimizer));
    const manifest: CheckpointManifest = {
      format: 'noisynn-checkpoint',
      version: 2,
      epoch: this.#epochs,
      step: this.#native.getStep(),
      fit,
      weights: files.weights,
      optimizer: files.optimizer,
      noiseOffset: this.#native.noiseOffset(),
      ...describeTrainer(this.options, this.model),
      history: this.#history,
      time: new Date().toISOString(),
    };
    await commitManifest(dir, manifest, previous);
    this.#checkpoint = { dir: path.resolve(dir), step: manifest.step };
    return manifest;
  }
}
