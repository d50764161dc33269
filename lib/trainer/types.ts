// What Trainer's methods take and return, and the events it emits.
import type { DataLoader } from '../dataloader';

export interface FitOptions {
  /**
   * Epochs this call trains, after any the trainer has trained already: a second
   * `fit({ epochs: 1 })` trains one more epoch, numbered 2. A fit resumed from `checkpointDir`
   * must ask for the epochs of the fit it continues.
   */
  epochs: number;
  /**
   * Evaluated after each epoch (loss, top1, top5 in the 'epoch' event and history). Must hold
   * no more classes than the model's numClasses.
   */
  validation?: DataLoader;
  /**
   * Save a checkpoint after each epoch here, and resume from the one found here. Created when
   * missing; fit rejects at once, naming it, when it is a file or cannot be written.
   */
  checkpointDir?: string;
  /**
   * Abort after the current step (or, during validation, after the current batch of it); fit
   * resolves with aborted: true. An epoch whose validation is cut short is kept and
   * checkpointed without its validation.
   */
  signal?: AbortSignal;
  /**
   * Append step and epoch records (JSON lines) to this file. It is opened before training
   * starts: fit rejects naming it when it cannot be appended to. With a `checkpointDir`, an
   * epoch's step records are written when the epoch ends, just before its checkpoint is
   * committed: the log then holds the steps a resume keeps, each once (an interrupted epoch,
   * which a resume trains again, is not logged). Without one they are written as they happen.
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
  /** The epoch the step belongs to, from 1, counting on across fits. */
  epoch: number;
  /** Global optimizer step, from 1, counting on across fits. */
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
  /** From 1, counting on across fits (a second fit's first epoch follows the first fit's last). */
  epoch: number;
  /** The number of the last epoch of this fit (the epochs trained before it plus its own). */
  epochs: number;
  /** Mean training loss and accuracy over the epoch. */
  loss: number;
  top1: number;
  /** Learning rate at the epoch's last step. */
  lr: number;
  imagesPerSecond: number;
  seconds: number;
  /** Absent without a validation loader, or when an abort cut the validation short. */
  validation?: EvalResult;
}

export interface FitResult {
  /** Epochs the trainer has completed after this fit (those of earlier fits and of a resumed checkpoint included). */
  epochs: number;
  /** Optimizer steps the trainer has taken after this fit. */
  steps: number;
  /** Epochs completed before this fit began (its first epoch is startEpoch + 1). */
  startEpoch: number;
  aborted: boolean;
  /** Resumed from this epoch's checkpoint, or null. */
  resumedFrom: number | null;
  /** This fit's epochs (a resumed fit's earlier epochs included); `trainer.history` has every fit's. */
  history: EpochEvent[];
}
