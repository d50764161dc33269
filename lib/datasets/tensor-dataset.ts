// TensorDataset: images and labels already in memory, copied into native memory.
import { binding, NativeDataset } from '../binding';
import { handleOf, Tensor } from '../tensor';
import { expectKnownKeys, expectOptions, rangeError, typeError } from '../validate';
import { Dataset } from './dataset';

/**
 * The most classes a TensorDataset takes. Without `classes` it names one class per integer up
 * to the largest label, so a stray large label (1e8) would build a name list that exhausts the
 * JS heap. The largest label sets in use (ImageNet-21k: 21,843 classes) are well below this,
 * and so is anything a model's head can hold (100,000 classes x a 768-wide ViT is already 77M
 * head parameters).
 */
const MAX_CLASSES = 100_000;

export interface TensorDatasetOptions {
  /**
   * The images: a Tensor (uint8 or float32) [N, C, H, W] or [N, H, W], or a Uint8Array /
   * Float32Array with `shape`. uint8 pixels are scaled to [0, 1] by the loader; float32 values
   * are used as they are.
   */
  images: Tensor | Uint8Array | Float32Array;
  /** The images' shape, [N, C, H, W] or [N, H, W] (required for a typed array). */
  shape?: readonly number[];
  /** One integer label per image, in [0, classes.length) and below 100,000. */
  labels: Tensor | Int32Array | BigInt64Array | Uint8Array | readonly number[];
  /** Class names, at most 100,000. Default: '0', '1', ... up to the largest label. */
  classes?: readonly string[];
}

/**
 * Samples from arrays already in memory (copied into native memory at construction).
 *
 * @throws TypeError / RangeError for mismatched shapes, non-integer or out-of-range labels.
 * @example
 * const ds = new TensorDataset({ images: new Uint8Array(4 * 28 * 28), shape: [4, 28, 28], labels: [0, 1, 2, 1] });
 */
export class TensorDataset extends Dataset {
  readonly length: number;
  readonly classes: readonly string[];
  readonly imageShape: readonly [number, number, number];
  readonly #native: NativeDataset;

  constructor(options: TensorDatasetOptions) {
    super();
    const o = expectOptions(options);
    expectKnownKeys(o, 'options', ['images', 'shape', 'labels', 'classes']);
    let images: Tensor;
    if (o.images instanceof Tensor) {
      if (o.shape !== undefined) throw new RangeError('shape is taken from the images Tensor; leave shape out');
      images = o.images;
    } else if (o.images instanceof Uint8Array || o.images instanceof Float32Array) {
      if (o.shape === undefined)
        throw typeError('shape', 'array [N, C, H, W] or [N, H, W] (required with a typed array)', o.shape);
      if (!Array.isArray(o.shape)) throw typeError('shape', 'array [N, C, H, W] or [N, H, W]', o.shape);
      images = Tensor.fromTypedArray(o.images, o.shape);
    } else {
      throw typeError('images', 'Tensor, Uint8Array or Float32Array', o.images);
    }
    let shape = images.shape;
    if (images.dtype !== 'uint8' && images.dtype !== 'float32') {
      throw new TypeError(`Expected uint8 or float32 images but received a ${images.dtype} Tensor`);
    }
    if (shape.length === 3) shape = [shape[0], 1, shape[1], shape[2]];
    if (shape.length !== 4)
      throw new RangeError(
        `Expected images of shape [N, C, H, W] or [N, H, W] but received shape [${images.shape.join(', ')}]`,
      );
    if (shape.slice(1).some((d) => d < 1))
      throw new RangeError(`Expected non-empty images but received shape [${images.shape.join(', ')}]`);
    const n = shape[0];

    const labels = labelsArray(o.labels, n);
    let max = -1;
    labels.forEach((l) => (max = Math.max(max, l)));
    let classes: readonly string[];
    if (o.classes === undefined) {
      if (max >= MAX_CLASSES) {
        const at = labels.indexOf(max);
        throw new RangeError(
          `Expected labels below ${MAX_CLASSES} (the most classes a TensorDataset takes) but labels[${at}] is ${max}`,
        );
      }
      classes = Array.from({ length: Math.max(1, max + 1) }, (_, i) => String(i));
    } else {
      if (!Array.isArray(o.classes) || o.classes.some((c) => typeof c !== 'string'))
        throw typeError('classes', 'array of strings', o.classes);
      if (o.classes.length === 0) throw rangeError('classes', 'non-empty array of strings', o.classes);
      if (o.classes.length > MAX_CLASSES) {
        throw rangeError('classes', `array of at most ${MAX_CLASSES} class names`, o.classes);
      }
      classes = [...(o.classes as string[])];
      const bad = labels.findIndex((l) => l >= classes.length);
      if (bad >= 0)
        throw new RangeError(
          `Expected labels below ${classes.length} (the number of classes) but labels[${bad}] is ${labels[bad]}`,
        );
    }
    const labelTensor = Tensor.fromTypedArray(
      BigInt64Array.from(labels, (l) => BigInt(l)),
      [n],
    );
    // The addon copies both (and reads [N, H, W] as one channel).
    this.#native = binding.datasetFromTensors(
      handleOf(images, 'images'),
      handleOf(labelTensor, 'labels'),
      classes.length,
    );
    labelTensor.dispose();
    if (images !== o.images) images.dispose();
    this.length = n;
    this.classes = classes;
    this.imageShape = [shape[1], shape[2], shape[3]];
  }

  /** @internal */
  protected loadNative(): Promise<NativeDataset> {
    return Promise.resolve(this.#native);
  }
}

/** The labels as numbers, checked to be non-negative safe integers, one per image. */
function labelsArray(value: unknown, n: number): number[] {
  let list: number[];
  if (value instanceof Tensor) {
    if (value.shape.length !== 1)
      throw new RangeError(`Expected labels of shape [${n}] but received shape [${value.shape.join(', ')}]`);
    list = Array.from(value.toTypedArray() as ArrayLike<number | bigint>, (v) => Number(v));
  } else if (value instanceof Int32Array || value instanceof Uint8Array) {
    list = Array.from(value);
  } else if (value instanceof BigInt64Array) {
    list = Array.from(value, (v) => Number(v));
  } else if (Array.isArray(value)) {
    list = value as number[];
  } else {
    throw typeError('labels', 'Tensor, Int32Array, BigInt64Array, Uint8Array or array of integers', value);
  }
  if (list.length !== n) throw new RangeError(`Expected ${n} labels (one per image) but received ${list.length}`);
  list.forEach((l, i) => {
    if (typeof l !== 'number') throw typeError(`labels[${i}]`, 'non-negative integer', l);
    if (!Number.isSafeInteger(l) || l < 0) throw rangeError(`labels[${i}]`, 'non-negative integer', l);
  });
  return list;
}
