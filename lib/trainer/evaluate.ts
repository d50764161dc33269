// One evaluation pass of a loader through the native trainer: loss, top-1 / top-5 hits and
// the per-sample hits the leakage audit pairs up.
import type { NativeTrainer } from '../binding';
import type { Batch, DataLoader } from '../dataloader';
import type { NoisyModel } from '../models';
import type { TrainerGroup } from './distributed';
import type { EvalResult } from './types';

export function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  batch.labels.dispose();
  batch.indices.dispose();
}

/**
 * Evaluates `loader` in eval mode (the model's mode is restored afterwards); null when `signal`
 * aborted the pass (checked after every batch; in a group, where every rank must evaluate the
 * same batches, only by the caller once the pass is over). In a group, a loader sharded over it
 * gives every rank the totals of all shards; `localNoise` mixes 'global' noise over each rank's
 * batch only.
 * @throws RangeError for an empty loader.
 */
export async function evaluatePass(
  native: NativeTrainer,
  model: NoisyModel,
  loader: DataLoader,
  signal?: AbortSignal,
  dist: { group: TrainerGroup | null; localNoise?: boolean } = { group: null },
): Promise<(EvalResult & { correctByIndex: Uint8Array }) | null> {
  const wasTraining = model.training;
  const { group } = dist;
  // 255: not seen.
  let correctByIndex: Uint8Array = new Uint8Array(loader.dataset.length).fill(255);
  let lossSum = 0;
  let top1 = 0;
  let top5 = 0;
  let samples = 0;
  try {
    model.eval();
    for await (const batch of loader) {
      try {
        // A shard's padding (repeats of other samples) is mixed by the noise but not counted.
        const r = await native.evaluate(
          batch.images._handle,
          batch.labels._handle,
          batch.valid,
          dist.localNoise === true,
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
      if (group === null && signal?.aborted) return null;
    }
  } finally {
    model.train(wasTraining);
  }
  // A loader sharded over the group saw 1/worldSize of the data: the totals are the ranks' sums.
  if (group !== null && loader._shard().worldSize > 1) {
    [lossSum, top1, top5, samples] = await group.sum([lossSum, top1, top5, samples]);
    correctByIndex = await group.mergeHits(correctByIndex);
  }
  if (samples === 0) {
    throw new RangeError(`Cannot evaluate on an empty loader (its dataset has ${loader.dataset.length} samples)`);
  }
  return { loss: lossSum / samples, top1: top1 / samples, top5: top5 / samples, samples, correctByIndex };
}
