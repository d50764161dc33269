// Tensor: a typed handle on native (libtorch) memory; copies only on request.
import { binding, NativeTensor } from './binding';
import { expectDevice, expectOneOf, expectOptions, expectKnownKeys, typeError, rangeError } from './validate';

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8';
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'int32', 'uint8'];
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type TypedArrayLike = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface FromTypedArrayOptions {
  /** Element type of the new tensor. Default: the type that matches `data` (see {@link Tensor.fromTypedArray}). */
  dtype?: DType;
  /** Where the tensor lives. Default 'cpu'. */
  device?: Device;
}

/** The dtype each accepted typed array maps to (native/napi/tensor.cc reads them the same way). */
const DEFAULT_DTYPE: Record<string, DType> = {
  Float32Array: 'float32',
  Float64Array: 'float64',
  BigInt64Array: 'int64',
  Int32Array: 'int32',
  Uint8Array: 'uint8',
  Uint8ClampedArray: 'uint8',
};
const ACCEPTED_ARRAYS = 'Float32Array, Float64Array, BigInt64Array, Int32Array, Uint8Array or Uint8ClampedArray';

let makingFromHandle = false;

/**
 * An n-dimensional array held by libtorch, on CPU or a CUDA device.
 *
 * Tensors are native memory reported to the garbage collector; call `dispose()` to free one
 * now. Any use after `dispose()` throws.
 *
 * @example
 * const x = Tensor.fromTypedArray(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * x.shape; // [2, 2]
 * x.toTypedArray(); // Float32Array [1, 2, 3, 4]
 */
export class Tensor {
  #handle: NativeTensor | null;

  /** @internal Use `Tensor.fromTypedArray`. */
  constructor(handle: NativeTensor) {
    if (!makingFromHandle) {
      throw new TypeError('Tensor cannot be constructed directly; use Tensor.fromTypedArray(data, shape)');
    }
    this.#handle = handle;
  }

  /** @internal Wraps a native handle returned by the addon. */
  static _fromHandle(handle: NativeTensor): Tensor {
    makingFromHandle = true;
    try {
      return new Tensor(handle);
    } finally {
      makingFromHandle = false;
    }
  }

  /**
   * Copies `data` into a new tensor of the given shape.
   *
   * The dtype follows the array unless `options.dtype` asks for another: Float32Array gives
   * float32, Float64Array float64, BigInt64Array int64, Int32Array int32, Uint8Array and
   * Uint8ClampedArray uint8. Other typed arrays (Int16Array, Uint32Array, ...) are refused.
   *
   * @param data Float32Array, Float64Array, BigInt64Array, Int32Array, Uint8Array or Uint8ClampedArray.
   * @param shape Non-negative integers whose product equals `data.length`.
   * @param options `dtype` (default: from the array type), `device` (default 'cpu').
   * @throws TypeError when `data` is not a supported typed array or `shape` not an array of integers.
   * @throws RangeError when the shape does not match the data length, or the dtype/device is unknown.
   * @example
   * Tensor.fromTypedArray(new Int32Array([1, 2]), [2]).dtype; // 'int32'
   * Tensor.fromTypedArray(new Int32Array([1, 2]), [2], { dtype: 'float32' }).dtype; // 'float32' (converted)
   */
  static fromTypedArray(data: TypedArrayLike | Uint8ClampedArray, shape: readonly number[], options?: FromTypedArrayOptions): Tensor {
    const arrayType = data === null || data === undefined ? undefined : (data as object).constructor?.name;
    if (!ArrayBuffer.isView(data) || arrayType === undefined || !(arrayType in DEFAULT_DTYPE)) {
      throw typeError('data', ACCEPTED_ARRAYS, data);
    }
    if (!Array.isArray(shape)) throw typeError('shape', 'array of non-negative integers', shape);
    let numel = 1;
    shape.forEach((d, i) => {
      if (typeof d !== 'number') throw typeError(`shape[${i}]`, 'non-negative integer', d);
      if (!Number.isInteger(d) || d < 0) throw rangeError(`shape[${i}]`, 'non-negative integer', d);
      numel *= d;
    });
    const length = (data as TypedArrayLike).length;
    if (numel !== length) {
      throw new RangeError(`Expected shape [${shape.join(', ')}] to hold ${numel} elements but data has ${length}`);
    }
    const opts = expectOptions(options);
    expectKnownKeys(opts, 'options', ['dtype', 'device']);
    const dtype = opts.dtype === undefined ? DEFAULT_DTYPE[arrayType] : expectOneOf(opts.dtype, 'dtype', DTYPES);
    const device = opts.device === undefined ? 'cpu' : expectDevice(opts.device);
    return Tensor._fromHandle(binding.NativeTensor.fromTypedArray(data, [...shape], dtype, device));
  }

  /** @internal The native handle; throws after dispose. */
  get _handle(): NativeTensor {
    if (this.#handle === null || this.#handle.isDisposed()) throw new Error('Tensor has been disposed');
    return this.#handle;
  }

  /** Sizes of each dimension. */
  get shape(): number[] {
    return this._handle.shape();
  }

  /** Element type: 'float32', 'float64', 'int64', 'int32', 'uint8' (also 'float16'/'bfloat16' for CUDA results). */
  get dtype(): string {
    return this._handle.dtype();
  }

  /** 'cpu' or 'cuda:N'. */
  get device(): string {
    return this._handle.device();
  }

  /** Number of elements. */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#handle === null || this.#handle.isDisposed();
  }

  /** Copies the data out (to the host) as a typed array of the tensor's dtype. */
  toTypedArray(): TypedArrayLike {
    return this._handle.toTypedArray();
  }

  /** A copy on `device` (and, optionally, converted to `dtype`). */
  to(device: Device, dtype?: DType): Tensor {
    expectDevice(device);
    if (dtype !== undefined) expectOneOf(dtype, 'dtype', DTYPES);
    return Tensor._fromHandle(this._handle.to(device, dtype));
  }

  /** Frees the native memory now. Idempotent. */
  dispose(): void {
    if (this.#handle !== null) {
      this.#handle.dispose();
      this.#handle = null;
    }
  }

  toString(): string {
    if (this.disposed) return 'Tensor(disposed)';
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }
}

/** @internal The native handle of a public Tensor argument, with a TypeError naming `name`. */
export function handleOf(value: unknown, name: string): NativeTensor {
  if (!(value instanceof Tensor)) throw typeError(name, 'Tensor', value);
  return value._handle;
}
