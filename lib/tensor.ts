// Tensor: a typed handle on native (libtorch) memory; copies only on request.
import { binding, NativeTensor } from './binding';
import { trackTensor } from './scope';
import {
  expectBoolean,
  expectDevice,
  expectNonNegativeInteger,
  expectOneOf,
  expectOptions,
  expectKnownKeys,
  typeError,
} from './validate';

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8';
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int64', 'int32', 'uint8'];
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type TypedArrayLike = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface FromTypedArrayOptions {
  /** Element type of the new tensor. Default: the type that matches `data` (see {@link Tensor.fromTypedArray}). */
  dtype?: DType;
  /** Where the tensor lives. Default 'cpu'. */
  device?: Device;
  /** Record the ops applied to the tensor, so `backward()` can compute its `grad`. Floating-point dtypes only. Default false. */
  requiresGrad?: boolean;
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

/** The dtypes that can carry gradients. */
const FLOAT_DTYPES: readonly string[] = ['float32', 'float64', 'float16', 'bfloat16'];

function expectGradDtype(dtype: string): void {
  if (!FLOAT_DTYPES.includes(dtype)) {
    throw new RangeError(
      `Expected a floating-point tensor (float32, float64, float16, bfloat16) for requiresGrad but received dtype ${dtype}`,
    );
  }
}

let makingFromHandle = false;

/**
 * An n-dimensional array held by libtorch, on CPU or a CUDA device.
 *
 * Tensors are native memory reported to the garbage collector, which frees a tensor it finds
 * unreachable (on Node 20.10 and later, inside that collection, even in a loop that never
 * yields); call `dispose()` to free one now, or run the work in `tidy()`. Any use after
 * `dispose()` throws.
 *
 * Autograd: a tensor made with `requiresGrad` (or given it by `setRequiresGrad()`) records the
 * differentiable ops applied to it (`injectNoise`, `to`); `backward()` on a result then
 * accumulates the gradient into its `grad`, as in PyTorch.
 *
 * @example
 * const x = Tensor.fromTypedArray(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * x.shape; // [2, 2]
 * x.toTypedArray(); // Float32Array [1, 2, 3, 4]
 * @example
 * const x = Tensor.fromTypedArray(new Float64Array([1, 2, 3, 4]), [2, 2], { requiresGrad: true });
 * const y = injectNoise(x, { kind: 'optimal' });
 * y.backward(Tensor.fromTypedArray(new Float64Array([1, 0, 0, 1]), [2, 2])); // d sum(y * w) / dx
 * x.grad?.toTypedArray(); // Float64Array [0.666..., 0.333..., 0.333..., 0.666...]
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
    let t: Tensor;
    try {
      t = new Tensor(handle);
    } finally {
      makingFromHandle = false;
    }
    trackTensor(t);
    return t;
  }

  /**
   * Copies `data` into a new tensor of the given shape.
   *
   * The dtype follows the array unless `options.dtype` asks for another: Float32Array gives
   * float32, Float64Array float64, BigInt64Array int64, Int32Array int32, Uint8Array and
   * Uint8ClampedArray uint8. Other typed arrays (Int16Array, Uint32Array, ...) are refused.
   * Views of a SharedArrayBuffer are accepted (copied like any other).
   *
   * Converting to an integer dtype truncates fractions toward zero (1.7 -> 1), but a value
   * outside the dtype's range (-1.2 or 300 for uint8, NaN) is refused rather than wrapped around.
   *
   * @param data Float32Array, Float64Array, BigInt64Array, Int32Array, Uint8Array or Uint8ClampedArray.
   * @param shape Non-negative integers whose product equals `data.length`.
   * @param options `dtype` (default: from the array type), `device` (default 'cpu'), `requiresGrad` (default false).
   * @throws TypeError when `data` is not a supported typed array, `shape` not an array of integers, or
   *   `requiresGrad` not a boolean.
   * @throws RangeError when the shape does not match the data length or holds a dimension that is not a
   *   safe integer, the dtype/device is unknown, a value does not fit the integer `dtype`, or
   *   `requiresGrad` is asked of an integer dtype.
   * @example
   * Tensor.fromTypedArray(new Int32Array([1, 2]), [2]).dtype; // 'int32'
   * Tensor.fromTypedArray(new Int32Array([1, 2]), [2], { dtype: 'float32' }).dtype; // 'float32' (converted)
   */
  static fromTypedArray(
    data: TypedArrayLike | Uint8ClampedArray,
    shape: readonly number[],
    options?: FromTypedArrayOptions,
  ): Tensor {
    const arrayType = data === null || data === undefined ? undefined : (data as object).constructor?.name;
    if (!ArrayBuffer.isView(data) || arrayType === undefined || !(arrayType in DEFAULT_DTYPE)) {
      throw typeError('data', ACCEPTED_ARRAYS, data);
    }
    if (!Array.isArray(shape)) throw typeError('shape', 'array of non-negative integers', shape);
    let numel = 1;
    shape.forEach((d, i) => {
      numel *= expectNonNegativeInteger(d, `shape[${i}]`);
    });
    const length = (data as TypedArrayLike).length;
    if (numel !== length) {
      throw new RangeError(`Expected shape [${shape.join(', ')}] to hold ${numel} elements but data has ${length}`);
    }
    const opts = expectOptions(options);
    expectKnownKeys(opts, 'options', ['dtype', 'device', 'requiresGrad']);
    const dtype = opts.dtype === undefined ? DEFAULT_DTYPE[arrayType] : expectOneOf(opts.dtype, 'dtype', DTYPES);
    const device = opts.device === undefined ? 'cpu' : expectDevice(opts.device);
    const requiresGrad = opts.requiresGrad === undefined ? false : expectBoolean(opts.requiresGrad, 'requiresGrad');
    if (requiresGrad) expectGradDtype(dtype);
    // The addon reads only ArrayBuffer-backed arrays: a view of a SharedArrayBuffer is copied
    // first (another thread may write to it meanwhile; the tensor gets the copy's values).
    const source =
      typeof SharedArrayBuffer !== 'undefined' && data.buffer instanceof SharedArrayBuffer ? data.slice() : data;
    const handle = binding.NativeTensor.fromTypedArray(source, [...shape], dtype, device);
    if (requiresGrad) handle.setRequiresGrad(true);
    return Tensor._fromHandle(handle);
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

  /**
   * A copy on `device` (and, optionally, converted to `dtype`); differentiable, like `injectNoise`.
   * @throws RangeError when a value does not fit an integer `dtype` (fractions are truncated; values
   *   outside its range are refused, not wrapped around).
   */
  to(device: Device, dtype?: DType): Tensor {
    expectDevice(device);
    if (dtype !== undefined) expectOneOf(dtype, 'dtype', DTYPES);
    return Tensor._fromHandle(this._handle.to(device, dtype));
  }

  /** Whether ops on this tensor are recorded for `backward()` (set, or inherited from an input that requires grad). */
  get requiresGrad(): boolean {
    return this._handle.requiresGrad();
  }

  /**
   * Starts (or stops) recording the ops applied to this tensor, for `backward()`; returns this.
   *
   * @param requiresGrad Default true.
   * @throws TypeError when `requiresGrad` is not a boolean.
   * @throws RangeError for an integer dtype.
   * @throws Error when turning it off on a tensor computed from others (detach() it instead).
   */
  setRequiresGrad(requiresGrad = true): this {
    expectBoolean(requiresGrad, 'requiresGrad');
    if (requiresGrad) expectGradDtype(this.dtype);
    this._handle.setRequiresGrad(requiresGrad);
    return this;
  }

  /**
   * Backpropagates from this tensor: accumulates d(sum(this * gradient))/dx into `x.grad` for every
   * tensor x it was computed from that requires grad. Runs on the calling thread.
   *
   * @param gradient The gradient of the final quantity with respect to this tensor, of its shape.
   *   Default: 1, which needs a one-element tensor.
   * @throws TypeError when `gradient` is not a Tensor.
   * @throws RangeError when this tensor does not require grad, `gradient` is left out on a tensor
   *   of more than one element, or its shape differs from this tensor's.
   * @example
   * const x = Tensor.fromTypedArray(new Float64Array(6), [3, 2], { requiresGrad: true });
   * injectNoise(x, { kind: 'linear' }).backward(Tensor.fromTypedArray(new Float64Array(6).fill(1), [3, 2]));
   * x.grad; // Tensor [3, 2]
   */
  backward(gradient?: Tensor): void {
    const handle = this._handle;
    if (!handle.requiresGrad()) {
      throw new RangeError('backward() needs a tensor that requires grad: make its inputs with requiresGrad: true');
    }
    const shape = handle.shape();
    if (gradient === undefined) {
      if (shape.reduce((a, b) => a * b, 1) !== 1) {
        throw new RangeError(
          `backward() without a gradient needs a one-element tensor but this one has shape [${shape.join(', ')}]; ` +
            'pass the gradient (a Tensor of the same shape)',
        );
      }
      handle.backward();
      return;
    }
    const g = handleOf(gradient, 'gradient');
    const gshape = g.shape();
    if (gshape.length !== shape.length || gshape.some((d, i) => d !== shape[i])) {
      throw new RangeError(
        `Expected gradient of shape [${shape.join(', ')}] but received shape [${gshape.join(', ')}]`,
      );
    }
    handle.backward(g);
  }

  /**
   * The gradient that `backward()` calls accumulated into this tensor, or null (none yet, or a
   * tensor computed from others: only the tensors you made keep one). It shares memory with the
   * accumulator, so later `backward()` calls add into it; `zeroGrad()` starts over.
   */
  get grad(): Tensor | null {
    const g = this._handle.grad();
    return g === null ? null : Tensor._fromHandle(g);
  }

  /** Drops the accumulated gradient (`grad` becomes null), as `x.grad = None` does in PyTorch. */
  zeroGrad(): void {
    this._handle.zeroGrad();
  }

  /** The same memory as a tensor that does not require grad: ops on it are not recorded. */
  detach(): Tensor {
    return Tensor._fromHandle(this._handle.detach());
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
