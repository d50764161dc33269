// Tensor: creation, dtypes, copies out, device moves, dispose, autograd, and bad input.
import { Tensor, info, injectNoise } from '../lib';
import { binding } from '../lib/binding';
import { normalizeNoiseConfig } from '../lib/noise';
import { product, randn } from './helpers/random';
import { CUDA_UNAVAILABLE } from './helpers/cuda';

describe('Tensor', () => {
  test('round-trips every supported dtype', () => {
    const f32 = Tensor.fromTypedArray(new Float32Array([1.5, -2, 3, 4]), [2, 2]);
    expect(f32.shape).toEqual([2, 2]);
    expect(f32.dtype).toBe('float32');
    expect(f32.device).toBe('cpu');
    expect(Array.from(f32.toTypedArray() as Float32Array)).toEqual([1.5, -2, 3, 4]);

    const f64 = Tensor.fromTypedArray(new Float64Array([0.1, 0.2]), [2]);
    expect(f64.dtype).toBe('float64');
    expect((f64.toTypedArray() as Float64Array)[0]).toBe(0.1);

    const i64 = Tensor.fromTypedArray(new BigInt64Array([1n, -5n, 9007199254740993n]), [3]);
    expect(i64.dtype).toBe('int64');
    expect(Array.from(i64.toTypedArray() as BigInt64Array)).toEqual([1n, -5n, 9007199254740993n]);

    const u8 = Tensor.fromTypedArray(new Uint8Array([0, 255, 7]), [1, 3]);
    expect(u8.dtype).toBe('uint8');
    expect(Array.from(u8.toTypedArray() as Uint8Array)).toEqual([0, 255, 7]);
  });

  test('each typed array maps to its documented dtype, never silently to float32', () => {
    const i32 = Tensor.fromTypedArray(new Int32Array([1, -2, 2147483647]), [3]);
    expect(i32.dtype).toBe('int32');
    const back = i32.toTypedArray();
    expect(back.constructor.name).toBe('Int32Array'); // (the addon's realm: instanceof would not match jest's)
    expect(Array.from(back as Int32Array)).toEqual([1, -2, 2147483647]); // float32 would round 2^31 - 1
    const u8 = Tensor.fromTypedArray(new Uint8Array([3, 250]), [2]);
    expect(u8.dtype).toBe('uint8');
    expect(u8.toTypedArray().constructor.name).toBe('Uint8Array');
    const clamped = Tensor.fromTypedArray(new Uint8ClampedArray([0, 255]), [2]);
    expect(clamped.dtype).toBe('uint8');
    const f64 = Tensor.fromTypedArray(new Float64Array([1 / 3]), [1]);
    expect(f64.dtype).toBe('float64');
    expect((f64.toTypedArray() as Float64Array)[0]).toBe(1 / 3);
    const i64 = Tensor.fromTypedArray(new BigInt64Array([-(1n << 62n)]), [1]);
    expect(i64.dtype).toBe('int64');
    expect((i64.toTypedArray() as BigInt64Array)[0]).toBe(-(1n << 62n));
    // A dtype is converted only on request.
    expect(Tensor.fromTypedArray(new Int32Array([5]), [1], { dtype: 'float32' }).dtype).toBe('float32');
    expect(i32.to('cpu', 'float64').dtype).toBe('float64');
  });

  test('other typed arrays are refused by name, in TypeScript and natively', () => {
    const accepted = 'Float32Array, Float64Array, BigInt64Array, Int32Array, Uint8Array or Uint8ClampedArray';
    expect(() => Tensor.fromTypedArray(new Int16Array(2) as unknown as Float32Array, [2])).toThrow(
      new TypeError(`Expected ${accepted} for data but received an instance of Int16Array`),
    );
    expect(() => Tensor.fromTypedArray(new BigUint64Array(2) as unknown as Float32Array, [2])).toThrow(
      new TypeError(`Expected ${accepted} for data but received an instance of BigUint64Array`),
    );
    // The addon's own check, for callers that skip lib/.
    expect(() => binding.NativeTensor.fromTypedArray(new Int16Array(2), [2], 'float32', 'cpu')).toThrow(
      new TypeError(`Expected ${accepted} for data but received Int16Array`),
    );
  });

  test('converts on request and copies the input', () => {
    const data = new Float32Array([1, 2, 3]);
    const t = Tensor.fromTypedArray(data, [3], { dtype: 'float64' });
    data[0] = 100; // the tensor owns a copy
    expect(t.dtype).toBe('float64');
    expect(Array.from(t.toTypedArray() as Float64Array)).toEqual([1, 2, 3]);
    const back = t.to('cpu', 'float32');
    expect(back.dtype).toBe('float32');
    const u8 = Tensor.fromTypedArray(new Uint8Array([1, 2]), [2]).to('cpu', 'float32');
    expect(Array.from(u8.toTypedArray() as Float32Array)).toEqual([1, 2]);
  });

  test('supports zero-size and scalar shapes', () => {
    expect(Tensor.fromTypedArray(new Float32Array(0), [0, 3]).shape).toEqual([0, 3]);
    expect(Tensor.fromTypedArray(new Float32Array([7]), []).shape).toEqual([]);
  });

  test('use after dispose throws, dispose is idempotent', () => {
    const t = Tensor.fromTypedArray(new Float32Array(4), [4]);
    expect(t.disposed).toBe(false);
    t.dispose();
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.shape).toThrow('Tensor has been disposed');
    expect(() => t.toTypedArray()).toThrow('Tensor has been disposed');
    expect(t.toString()).toBe('Tensor(disposed)');
  });

  test('bad input gets clear errors', () => {
    expect(() => Tensor.fromTypedArray([1, 2] as unknown as Float32Array, [2])).toThrow(
      new TypeError(
        'Expected Float32Array, Float64Array, BigInt64Array, Int32Array, Uint8Array or Uint8ClampedArray for data but received an array of length 2',
      ),
    );
    expect(() => Tensor.fromTypedArray(new Float32Array(6), [2, 2])).toThrow(
      new RangeError('Expected shape [2, 2] to hold 4 elements but data has 6'),
    );
    expect(() => Tensor.fromTypedArray(new Float32Array(2), [1.5] as number[])).toThrow(
      new RangeError('Expected non-negative integer for shape[0] but received 1.5 (number)'),
    );
    expect(() => Tensor.fromTypedArray(new Float32Array(2), '2' as unknown as number[])).toThrow(
      new TypeError("Expected array of non-negative integers for shape but received '2' (string)"),
    );
    expect(() => Tensor.fromTypedArray(new Float32Array(2), [2], { dtype: 'float8' as 'float32' })).toThrow(
      new RangeError(
        "Expected one of 'float32', 'float64', 'int64', 'int32', 'uint8' for dtype but received 'float8' (string)",
      ),
    );
    expect(() => Tensor.fromTypedArray(new Float32Array(2), [2], { device: 'tpu' as 'cpu' })).toThrow(
      new RangeError("Expected 'cpu', 'cuda' or 'cuda:N' for device but received 'tpu' (string)"),
    );
    expect(() => Tensor.fromTypedArray(new Float32Array(2), [2], { dtyp: 'float32' } as object)).toThrow(
      new RangeError("Unknown option 'dtyp' in options; expected one of dtype, device, requiresGrad"),
    );
    expect(() => new (Tensor as unknown as new (h: unknown) => Tensor)({})).toThrow(TypeError);
  });

  (info().cuda ? test.skip : test)('asking for CUDA without a GPU is a RangeError, not a crash', () => {
    expect(() => Tensor.fromTypedArray(new Float32Array(2), [2], { device: 'cuda' })).toThrow(
      new RangeError(`device 'cuda' requested but ${CUDA_UNAVAILABLE}`),
    );
  });
});

describe('Tensor autograd', () => {
  const shape = [6, 4];
  const f64 = (seed: number, options = {}) => Tensor.fromTypedArray(randn(product(shape), seed), shape, options);
  const values = (t: Tensor) => Array.from(t.toTypedArray() as Float64Array);

  test('the gradient of sum(injectNoise(x) * w) equals the reference gradient', () => {
    for (const kind of ['none', 'linear', 'optimal', 'gaussian', 'saltPepper'] as const) {
      for (const detach of [false, true]) {
        const config = { kind, detach, seed: 9, strength: kind === 'saltPepper' ? 0.5 : undefined };
        const x = f64(5, { requiresGrad: true });
        const w = f64(6);
        const y = injectNoise(x, config);
        expect(y.requiresGrad).toBe(true);
        expect(y.grad).toBeNull(); // a computed tensor keeps no gradient of its own
        y.backward(w);
        const reference = binding._testing.noiseGrad(x.detach()._handle, w._handle, normalizeNoiseConfig(config), true);
        const want = Array.from(reference.toTypedArray() as Float64Array);
        const got = values(x.grad as Tensor);
        expect(Math.max(...got.map((g, i) => Math.abs(g - want[i])))).toBeLessThan(1e-12);
      }
    }
  });

  test('backward accumulates into grad until zeroGrad, like PyTorch', () => {
    const x = f64(1).setRequiresGrad();
    const w = f64(2);
    injectNoise(x, { kind: 'linear' }).backward(w);
    const once = values(x.grad as Tensor);
    injectNoise(x, { kind: 'linear' }).backward(w);
    expect(values(x.grad as Tensor)).toEqual(once.map((g) => 2 * g));
    x.zeroGrad();
    expect(x.grad).toBeNull();
    // A one-element tensor needs no gradient argument.
    const s = Tensor.fromTypedArray(new Float64Array([2]), [1], { requiresGrad: true });
    injectNoise(s, { kind: 'gaussian', strength: 0 }).backward();
    expect(values(s.grad as Tensor)).toEqual([1]);
  });

  test('an input without requiresGrad gives an output without grad', () => {
    const x = f64(3);
    expect(x.requiresGrad).toBe(false);
    const y = injectNoise(x, { kind: 'optimal' });
    expect(y.requiresGrad).toBe(false);
    expect(() => y.backward(f64(4))).toThrow(
      new RangeError('backward() needs a tensor that requires grad: make its inputs with requiresGrad: true'),
    );
    expect(x.grad).toBeNull();
    // detach() cuts the graph: the same values, nothing recorded.
    const xg = f64(3, { requiresGrad: true });
    const d = xg.detach();
    expect(d.requiresGrad).toBe(false);
    expect(values(d)).toEqual(values(xg));
    expect(injectNoise(d, { kind: 'linear' }).requiresGrad).toBe(false);
  });

  test('bad use gets clear errors', () => {
    const x = f64(7, { requiresGrad: true });
    const y = injectNoise(x, { kind: 'linear' });
    expect(() => y.backward()).toThrow(
      new RangeError(
        'backward() without a gradient needs a one-element tensor but this one has shape [6, 4]; pass the gradient (a Tensor of the same shape)',
      ),
    );
    expect(() => y.backward(Tensor.fromTypedArray(new Float64Array(4), [4]))).toThrow(
      new RangeError('Expected gradient of shape [6, 4] but received shape [4]'),
    );
    expect(() => y.backward([1] as unknown as Tensor)).toThrow(
      new TypeError('Expected Tensor for gradient but received an array of length 1'),
    );
    expect(() => Tensor.fromTypedArray(new Int32Array(2), [2], { requiresGrad: true })).toThrow(
      new RangeError(
        'Expected a floating-point tensor (float32, float64, float16, bfloat16) for requiresGrad but received dtype int32',
      ),
    );
    expect(() => Tensor.fromTypedArray(new Float32Array(2), [2], { requiresGrad: 1 as unknown as boolean })).toThrow(
      new TypeError('Expected boolean for requiresGrad but received 1 (number)'),
    );
    expect(() => Tensor.fromTypedArray(new Uint8Array(2), [2]).setRequiresGrad()).toThrow(RangeError);
    // Turning it off on a computed tensor is libtorch's error, thrown, not a crash.
    expect(() => y.setRequiresGrad(false)).toThrow(/leaf variables/);
  });
});

describe('conversions and inputs that were silently wrong', () => {
  test('converting to an integer dtype refuses values that would wrap around, and truncates fractions', () => {
    expect(() => Tensor.fromTypedArray(new Float32Array([-1.2, 7, 300]), [3], { dtype: 'uint8' })).toThrow(
      new RangeError(
        'Cannot convert data to uint8: its values span [-1.2, 300] but uint8 holds [0, 255] (they would wrap around); clamp or rescale them first',
      ),
    );
    expect(() => Tensor.fromTypedArray(new Float32Array([NaN]), [1], { dtype: 'int32' })).toThrow(
      /^Cannot convert data to int32: its values span \[nan, nan\]/,
    );
    expect(() => Tensor.fromTypedArray(new Int32Array([256]), [1], { dtype: 'uint8' })).toThrow(
      'Cannot convert data to uint8: its values span [256, 256]',
    );
    const x = Tensor.fromTypedArray(new Float32Array([0.5, 300]), [2]);
    expect(() => x.to('cpu', 'uint8')).toThrow(
      'Cannot convert the tensor to uint8: its values span [0.5, 300] but uint8 holds [0, 255]',
    );
    expect(
      Array.from(
        Tensor.fromTypedArray(new Float32Array([1.7, 255]), [2], { dtype: 'uint8' }).toTypedArray() as Uint8Array,
      ),
    ).toEqual([1, 255]);
  });

  test('a SharedArrayBuffer-backed array is copied like any other', () => {
    const shared = new Float32Array(new SharedArrayBuffer(16));
    shared.set([1, 2, 3, 4]);
    const t = Tensor.fromTypedArray(shared, [2, 2]);
    shared[0] = 9;
    expect(Array.from(t.toTypedArray() as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  test('shape dimensions must be safe integers, not clamped', () => {
    expect(() => Tensor.fromTypedArray(new Float32Array(0), [0, 1e300])).toThrow(
      new RangeError(
        'Expected non-negative integer at most 9007199254740991 in magnitude for shape[1] but received 1e+300 (number)',
      ),
    );
  });
});
