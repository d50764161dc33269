// The Trainer's inputs checked against its model before any native work: loaders (not disposed,
// no more classes than the model's head) and hand-made batches (dtype, shape, device).
import { Batch, DataLoader } from '../dataloader';
import type { NoisyModel } from '../models';
import { handleOf } from '../tensor';
import { expectOptions, typeError } from '../validate';

const INTEGER_DTYPES = ['int64', 'int32', 'uint8'];

/** `value` as a DataLoader that can still run a pass and whose classes the model can predict. */
export function expectLoader(value: unknown, name: string, model: NoisyModel): DataLoader {
  if (!(value instanceof DataLoader)) throw typeError(name, 'DataLoader', value);
  if (value.disposed) throw new Error(`The ${name} DataLoader has been disposed`);
  const classes = value.dataset.classes.length;
  const head = model.config.numClasses;
  if (classes > head) {
    throw new RangeError(
      `The ${name} data has ${classes} classes but the model's numClasses is ${head}: its labels up to ${classes - 1} ` +
        `would be out of range (create the model with numClasses: ${classes})`,
    );
  }
  return value;
}

/**
 * A batch for `step`: float images of the model's input shape on its device, and integer
 * labels [batch] (float labels would be truncated silently).
 */
export function expectBatch(value: unknown, model: NoisyModel): Batch {
  const b = expectOptions(value, 'batch');
  if (value === undefined) throw typeError('batch', 'object with images and labels', value);
  const images = handleOf(b.images, 'batch.images');
  const labels = handleOf(b.labels, 'batch.labels');
  model._checkInput(images, 'batch.images');
  const dtype = labels.dtype();
  if (!INTEGER_DTYPES.includes(dtype)) {
    throw new RangeError(
      `Expected integer labels (int64, int32 or uint8) for batch.labels but received dtype ${dtype}`,
    );
  }
  const n = images.shape()[0];
  const shape = labels.shape();
  if (shape.length !== 1 || shape[0] !== n) {
    throw new RangeError(
      `Expected batch.labels of shape [${n}] (one per image) but received shape [${shape.join(', ')}]`,
    );
  }
  return b as unknown as Batch;
}
