// One evaluation pass of a loader through the native trainer: loss, top-1 / top-5 hits and
// the per-sample hits the leakage audit pairs up.
import type { NativeTrainer } from '../binding';
import type { Batch, DataLoader } from '../dataloader';
import type { NoisyModel } from '../models';
import type { EvalResult } from './types';

export function disposeBatch(batch: Batch): void {
  batch.images.dispose();
  batch.labels.dispose();
  batch.indices.dispose();
}

/**
 * Evaluates `loader` in eval mode (the model's mode is restored afterwards); null when `signal`
 * aborted the pass (checked after every batch).
 * @throws RangeError for an empty loader.
 */
export async function evaluatePass(
  native: NativeTrainer,
  model: NoisyModel,
  loader: DataLoader,
  signal?: AbortSignal,
): Promise<(EvalResult & { correctByIndex: Uint8Array }) | null> {
  const wasTraining = model.training;
  // 255: not seen.
  const correctByIndex = new Uint8Array(loader.dataset.length).fill(255);
  let lossSum = 0;
  let top1 = 0;
  let top5 = 0;
  let samples = 0;
  try {
    model.eval();
    for await (const batch of loader) {
      try {
        const r = await native.evaluate(batch.images._handle, batch.labels._handle);
        lossSum += r.lossSum;
        top1 += r.top1;
        top5 += r.top5;
        samples += r.samples;
        const idx = batch.indices.toTypedArray() as BigInt64Array;
        for (let i = 0; i < idx.length; i++) correctByIndex[Number(idx[i])] = r.correct[i];
      } finally {
        disposeBatch(batch);
      }
      if (signal?.aborted) return null;
    }
  } finally {
    model.train(wasTraining);
  }
  if (samples === 0) {
    throw new RangeError(`Cannot evaluate on an empty loader (its dataset has ${loader.dataset.length} samples)`);
  }
  return { loss: lossSum / samples, top1: top1 / samples, top5: top5 / samples, samples, correctByIndex };
}
