// Dataset: what every dataset offers (length, classes, image shape, samples), held in native memory.
//
// Constructors are synchronous and cheap: they validate options, find the files and read their
// headers (so `length`, `classes` and `imageShape` are known at once, and a missing or mislabelled
// file fails right there). The pixels are read off the JS thread on first use: `load()`, `get()`,
// or the first pass of a DataLoader.
import type { NativeDataset } from '../binding';
import { Tensor } from '../tensor';
import { describe, expectInteger } from '../validate';

/** One sample: the image as stored (uint8 [C, H, W], or float32 for a float TensorDataset) and its label. */
export interface Sample {
  image: Tensor;
  label: number;
}

export type Split = 'train' | 'test';
/** The splits of the built-in datasets. */
export const SPLITS: readonly Split[] = ['train', 'test'];

/**
 * What every dataset offers; DataLoader reads any of them.
 * Subclasses supply `length`, `classes`, `imageShape` and the native load.
 */
export abstract class Dataset {
  #loading: Promise<NativeDataset> | null = null;

  /** Number of samples. */
  abstract readonly length: number;
  /** Class names; label i names classes[i]. */
  abstract readonly classes: readonly string[];
  /** Shape of one stored image, [channels, height, width]. */
  abstract readonly imageShape: readonly [number, number, number];

  /** @internal Reads the data into native memory (off the JS thread). */
  protected abstract loadNative(): Promise<NativeDataset>;

  /**
   * Reads the samples into native memory, once; later calls return at once. Not needed before
   * `get()` or a DataLoader pass (they load on demand), but useful to surface file errors early.
   * @throws Error naming the file when one is truncated or corrupt (a failed load may be retried).
   */
  async load(): Promise<this> {
    await this._native();
    return this;
  }

  /**
   * Sample `index` as stored, before any transform.
   * @throws RangeError when `index` is not an integer in [0, length).
   * @example
   * const { image, label } = await new FashionMNIST().get(0); // image: uint8 [1, 28, 28]
   */
  async get(index: number): Promise<Sample> {
    if (this.length === 0) throw new RangeError(`Cannot get index ${describe(index)} of an empty dataset`);
    expectInteger(index, 'index', 0, this.length - 1);
    const native = await this._native();
    const s = native.get(index);
    return { image: Tensor._fromHandle(s.image), label: s.label };
  }

  /** Every label, int64 [length] (a copy). */
  async labels(): Promise<Tensor> {
    return Tensor._fromHandle((await this._native()).labels());
  }

  /** @internal The native dataset, loading it on first use. */
  _native(): Promise<NativeDataset> {
    if (this.#loading === null) {
      const loading = this.loadNative();
      this.#loading = loading;
      // A failed load is forgotten, so a later call retries (the caller sees this rejection).
      loading.catch(() => {
        if (this.#loading === loading) this.#loading = null;
      });
    }
    return this.#loading;
  }
}
