// `noisynn train --resume`: how the run's total --epochs maps onto Trainer.fit, whose `epochs`
// are the epochs a call adds. An interrupted fit is continued as it was; a finished run is
// extended by a new fit of the epochs still missing.
import type { CheckpointManifest } from '../checkpoint';
import { UsageError } from './args';

export interface ResumePlan {
  /** The `epochs` to pass to fit. */
  fitEpochs: number;
  /** Whether the run's finished checkpoint must be loaded first (a new fit extends it). */
  extend: boolean;
}

/**
 * The fit that brings the run to `epochs` epochs in all, from the run's checkpoint (or null).
 * @throws UsageError when --epochs does not fit the checkpoint: another total for an interrupted
 *   fit, or fewer epochs than a finished run already has.
 */
export function resumePlan(
  previous: CheckpointManifest | null,
  epochs: number,
  resume: string | undefined,
): ResumePlan {
  if (previous === null) return { fitEpochs: epochs, extend: false };
  const end = previous.fit.startEpoch + previous.fit.epochs;
  if (previous.epoch < end) {
    if (epochs !== end) {
      throw new UsageError(
        `the run in ${resume} was interrupted in a fit to epoch ${end}: resume it with --epochs ${end} ` +
          '(or without --epochs), then extend it with a larger --epochs',
      );
    }
    return { fitEpochs: previous.fit.epochs, extend: false };
  }
  if (epochs < previous.epoch) {
    throw new UsageError(
      `the run in ${resume} has trained ${previous.epoch} epochs already; --epochs counts the run's epochs in all, ` +
        `so give more than ${previous.epoch} to train it further`,
    );
  }
  // Nothing to add: the finished fit is resumed as it is (it trains nothing).
  if (epochs === previous.epoch) return { fitEpochs: previous.fit.epochs, extend: false };
  return { fitEpochs: epochs - previous.epoch, extend: true };
}
