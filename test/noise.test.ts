// injectNoise: the fused op against the literal formula (values and gradients), finite
// differences, determinism, statistics, CPU/CUDA agreement and bad input.
import { DEFAULT_STRENGTH, Tensor, injectNoise, info, NoiseConfig } from '../lib';
import { binding } from '../lib/binding';
import { normalizeNoiseConfig } from '../lib/noise';
import { maxAbsDiff, product, randn } from './helpers/random';

type Kind = NoiseConfig['kind'];
const KINDS: Kind[] = ['none', 'linear', 'optimal', 'gaussian', 'saltPepper'];
const SHAPES: { shape: number[]; axes: number[] }[] = [
  { shape: [7], axes: [0] },
  { shape: [5, 3], axes: [0, 1, -1] },
  { shape: [4, 6, 5], axes: [0, 1, 2] },
  { shape: [3, 4, 2, 5], axes: [0, 2, -1] },
  { shape: [1, 9, 4], axes: [0] }, // k = 1 along the batch
];

function tensor(shape: number[], seed: number, dtype: 'float32' | 'float64' = 'float64'): Tensor {
  return Tensor.fromTypedArray(randn(product(shape), seed), shape, { dtype });
}

function values(t: Tensor): number[] {
  return Array.from(t.toTypedArray() as Float64Array | Float32Array);
}

function nativeConfig(config: NoiseConfig, rank: number) {
  const c = normalizeNoiseConfig(config);
  c.axis = c.axis < 0 ? c.axis + rank : c.axis;
  return c;
}

function reference(x: Tensor, config: NoiseConfig): Tensor {
  return Tensor._fromHandle(binding._testing.injectNoiseReference(x._handle, nativeConfig(config, x.shape.length)));
}

function grad(x: Tensor, w: Tensor, config: NoiseConfig, useReference: boolean): number[] {
  return values(
    Tensor._fromHandle(
      binding._testing.noiseGrad(x._handle, w._handle, nativeConfig(config, x.shape.length), useReference),
    ),
  );
}

describe('injectNoise values equal the literal formula', () => {
  for (const kind of KINDS) {
    for (const { shape, axes } of SHAPES) {
      for (const axis of axes) {
        for (const dtype of ['float32', 'float64'] as const) {
          test(`${kind} shape [${shape}] axis ${axis} ${dtype}`, () => {
            const x = tensor(shape, 11 + shape.length, dtype);
            const config: NoiseConfig = {
              kind,
              axis,
              seed: 42,
              strength: kind === 'saltPepper' ? 0.4 : kind === 'gaussian' ? 0.7 : undefined,
              mean: 0.1,
              std: 0.5,
            };
            const out = injectNoise(x, config);
            expect(out.shape).toEqual(shape);
            expect(out.dtype).toBe(dtype);
            const tol = dtype === 'float64' ? 1e-12 : 2e-6;
            expect(maxAbsDiff(values(out), values(reference(x, config)))).toBeLessThan(tol);
          });
        }
      }
    }
  }

  test('k = 1 is the identity for linear and optimal', () => {
    const x = tensor([1, 6, 4], 3);
    for (const kind of ['linear', 'optimal'] as const) {
      expect(values(injectNoise(x, { kind }))).toEqual(values(x));
    }
  });

  test('linear and optimal match hand-computed values', () => {
    const x = Tensor.fromTypedArray(new Float64Array([1, 2, 3, 4, 5, 6]), [3, 2]);
    // linear, a = 0.5: out_i = x_i + 0.5 (x_{i+1 mod 3} - x_i)
    expect(values(injectNoise(x, { kind: 'linear', strength: 0.5 }))).toEqual([2, 3, 4, 5, 3, 4]);
    // optimal: (x_i + sum) / 4 with column sums 9 and 12
    expect(values(injectNoise(x, { kind: 'optimal' }))).toEqual([2.5, 3.5, 3, 4, 3.5, 4.5]);
  });

  test('x is untouched', () => {
    const x = tensor([4, 5], 8);
    const before = values(x);
    injectNoise(x, { kind: 'gaussian', seed: 1 });
    expect(values(x)).toEqual(before);
  });
});

describe('injectNoise gradients', () => {
  const cases: { shape: number[]; axis: number }[] = [
    { shape: [6, 4], axis: 0 },
    { shape: [3, 5, 4], axis: 1 },
    { shape: [2, 3, 7], axis: -1 },
  ];
  for (const kind of KINDS) {
    for (const detach of [false, true]) {
      for (const { shape, axis } of cases) {
        test(`${kind}${detach ? ' detached' : ''} [${shape}] axis ${axis}: backward equals the reference's autograd`, () => {
          const x = tensor(shape, 5);
          const w = tensor(shape, 6);
          const config: NoiseConfig = {
            kind,
            axis,
            detach,
            seed: 9,
            strength: kind === 'saltPepper' ? 0.5 : undefined,
          };
          expect(maxAbsDiff(grad(x, w, config, false), grad(x, w, config, true))).toBeLessThan(1e-12);
        });
      }
    }
  }

  test('detach makes the backward the identity', () => {
    const x = tensor([5, 3], 1);
    const w = tensor([5, 3], 2);
    for (const kind of KINDS) {
      expect(maxAbsDiff(grad(x, w, { kind, detach: true, seed: 3 }, false), values(w))).toBe(0);
    }
  });

  for (const kind of ['linear', 'optimal', 'gaussian', 'none'] as const) {
    test(`${kind}: float64 finite differences agree with backward`, () => {
      const shape = [4, 3, 2];
      const n = product(shape);
      const xData = randn(n, 21);
      const w = tensor(shape, 22);
      const wv = values(w);
      const config: NoiseConfig = { kind, axis: 0, seed: 5, strength: kind === 'linear' ? 0.35 : undefined };
      const analytic = grad(Tensor.fromTypedArray(xData, shape), w, config, false);
      const loss = (data: Float64Array) => {
        const y = values(injectNoise(Tensor.fromTypedArray(data, shape), config));
        return y.reduce((s, v, i) => s + v * wv[i], 0);
      };
      const h = 1e-6;
      for (let i = 0; i < n; i++) {
        const plus = Float64Array.from(xData);
        const minus = Float64Array.from(xData);
        plus[i] += h;
        minus[i] -= h;
        expect(Math.abs((loss(plus) - loss(minus)) / (2 * h) - analytic[i])).toBeLessThan(1e-7);
      }
    });
  }
});

describe('injectNoise randomness', () => {
  test('same seed gives the same noise, another seed different noise', () => {
    const x = tensor([16, 32], 4, 'float32');
    for (const kind of ['gaussian', 'saltPepper'] as const) {
      const a = values(injectNoise(x, { kind, seed: 123 }));
      const b = values(injectNoise(x, { kind, seed: 123 }));
      const c = values(injectNoise(x, { kind, seed: 124 }));
      expect(a).toEqual(b);
      expect(maxAbsDiff(a, c)).toBeGreaterThan(0);
    }
    // No seed: a fresh random one each call.
    expect(
      maxAbsDiff(values(injectNoise(x, { kind: 'gaussian' })), values(injectNoise(x, { kind: 'gaussian' }))),
    ).toBeGreaterThan(0);
    // bigint seeds use all 64 bits.
    const big = values(injectNoise(x, { kind: 'gaussian', seed: (1n << 63n) + 5n }));
    expect(maxAbsDiff(big, values(injectNoise(x, { kind: 'gaussian', seed: 5 })))).toBeGreaterThan(0);
  });

  test('gaussian noise has mean s*m and standard deviation s*d', () => {
    const n = 1 << 20;
    const x = Tensor.fromTypedArray(new Float64Array(n), [1024, 1024]);
    const s = 2;
    const m = 0.25;
    const d = 0.5;
    const y = values(injectNoise(x, { kind: 'gaussian', strength: s, mean: m, std: d, seed: 77 }));
    const mean = y.reduce((a, v) => a + v, 0) / n;
    const variance = y.reduce((a, v) => a + (v - mean) ** 2, 0) / n;
    // 5 standard errors: the mean's is s*d/sqrt(n); the std's is about s*d/sqrt(2n).
    expect(Math.abs(mean - s * m)).toBeLessThan((5 * s * d) / Math.sqrt(n));
    expect(Math.abs(Math.sqrt(variance) - s * d)).toBeLessThan((5 * s * d) / Math.sqrt(2 * n));
  });

  test("saltPepper (the official rule) replaces a fraction p of elements, half by the tensor's max and half by its min", () => {
    // The official code (ViT.py, CNNs.py): one salt, the max of the whole tensor, and one pepper,
    // its min, whatever the axis.
    const k = 16;
    const cols = 1 << 15;
    const p = 0.3;
    const xs = randn(k * cols, 8);
    let hi = -Infinity;
    let lo = Infinity;
    for (const v of xs) {
      hi = Math.max(hi, v);
      lo = Math.min(lo, v);
    }
    for (const axis of [0, 1]) {
      const x = Tensor.fromTypedArray(xs, [k, cols]);
      const y = values(injectNoise(x, { kind: 'saltPepper', strength: p, seed: 31, axis }));
      let toMax = 0;
      let toMin = 0;
      let other = 0; // elements that changed to anything but the max or the min
      for (let e = 0; e < xs.length; e++) {
        if (y[e] === hi) toMax++;
        else if (y[e] === lo) toMin++;
        else if (y[e] !== xs[e]) other++;
      }
      expect(other).toBe(0);
      const n = xs.length;
      const se = Math.sqrt(((p / 2) * (1 - p / 2)) / n);
      expect(Math.abs(toMax / n - p / 2)).toBeLessThan(5 * se);
      expect(Math.abs(toMin / n - p / 2)).toBeLessThan(5 * se);
    }
  });

  test('saltPepper equals the official rule written out in JS, on the same Philox uniforms, values and gradients', () => {
    // The official code (ViT.py L50-61, CNNs.py L22-32): salt = x.max(), pepper = x.min() of the
    // whole tensor, detached; u < p/2 takes the salt, p/2 <= u < p the pepper. The kernel draws
    // one float32 uniform per element from Philox(seed, offset 0) in element order.
    const shape = [6, 5, 7];
    const p = 0.3;
    for (const dtype of ['float32', 'float64'] as const) {
      for (const axis of [0, 2]) {
        const x = tensor(shape, 41, dtype).setRequiresGrad(true);
        const xs = values(x);
        const u = values(Tensor._fromHandle(binding._testing.philox('uniform', shape, '31', '0', 'float32')));
        const salt = Math.max(...xs);
        const pepper = Math.min(...xs);
        const half = Math.fround(p / 2);
        const whole = Math.fround(p);
        const expected = xs.map((v, e) => (u[e] < half ? salt : u[e] < whole ? pepper : v));
        const y = injectNoise(x, { kind: 'saltPepper', strength: p, seed: 31, axis });
        expect(values(y)).toEqual(expected);
        expect(expected.filter((v, e) => v !== xs[e]).length).toBeGreaterThan(20); // the test replaces something
        // Replaced elements pass no gradient (their value is a detached constant); the rest pass it through.
        y.backward(Tensor.fromTypedArray(new Float64Array(xs.length).fill(1), shape, { dtype }));
        expect(values(x.grad as Tensor)).toEqual(u.map((ue) => (ue < whole ? 0 : 1)));
      }
    }
  });

  test('the default strengths are the official ones: gaussian s = 0.1 (mean 0, std 1), saltPepper p = 0.1, linear a = 0.3', () => {
    expect(DEFAULT_STRENGTH).toEqual({ none: 0, linear: 0.3, optimal: 0, gaussian: 0.1, saltPepper: 0.1 });
    expect(normalizeNoiseConfig({ kind: 'gaussian' })).toMatchObject({ strength: 0.1, mean: 0, std: 1 });
    const x = tensor([8, 16], 5);
    for (const kind of ['gaussian', 'saltPepper', 'linear'] as const) {
      const omitted = values(injectNoise(x, { kind, seed: 3 }));
      expect(omitted).toEqual(values(injectNoise(x, { kind, seed: 3, strength: DEFAULT_STRENGTH[kind] })));
    }
  });

  test('saltPepper: one NaN anywhere makes the salt and the pepper NaN, as torch.max and torch.min propagate it', () => {
    const xs = randn(64 * 32, 9);
    xs[777] = NaN;
    const y = values(injectNoise(Tensor.fromTypedArray(xs, [64, 32]), { kind: 'saltPepper', strength: 0.5, seed: 4 }));
    let replaced = 0;
    for (let e = 0; e < xs.length; e++) {
      if (e === 777) continue;
      if (Number.isNaN(y[e])) replaced++;
      else expect(y[e]).toBe(xs[e]);
    }
    // About half the elements take the (NaN) salt or pepper; the rest are untouched.
    expect(replaced / xs.length).toBeGreaterThan(0.4);
    expect(replaced / xs.length).toBeLessThan(0.6);
  });

  test('the Philox stream is uniform on (0, 1) and standard normal', () => {
    const u = values(Tensor._fromHandle(binding._testing.philox('uniform', [1 << 16], '1', '0', 'float64')));
    expect(Math.min(...u)).toBeGreaterThan(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(u.reduce((a, v) => a + v, 0) / u.length - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / u.length));
    const z = values(Tensor._fromHandle(binding._testing.philox('normal', [1 << 16], '1', '7', 'float64')));
    expect(Math.abs(z.reduce((a, v) => a + v, 0) / z.length)).toBeLessThan(5 / Math.sqrt(z.length));
  });
});

describe('the CPU kernels of this build', () => {
  test('run in parallel where libtorch does, and name their vector path', () => {
    // Guards against building without -fopenmp against an OpenMP libtorch: at::parallel_for is
    // then an ignored pragma and every kernel runs on one thread, silently.
    const native = binding.info();
    expect(native.cpuKernelsParallel).toBe(true);
    const i = info();
    expect(['avx512', 'avx2', 'portable']).toContain(i.cpuKernels);
    expect(i.warnings.join('\n')).not.toMatch(/one thread/);
  });
});

describe('injectNoise on CUDA agrees with the CPU kernel', () => {
  const cuda = info().cuda;
  const maybe = cuda ? test : test.skip;
  for (const kind of KINDS) {
    maybe(`${kind}`, () => {
      const x = tensor([8, 33, 17], 2, 'float32');
      const xc = x.to('cuda');
      for (const axis of [0, 1, 2]) {
        const config: NoiseConfig = { kind, axis, seed: 1234 };
        const cpu = values(injectNoise(x, config));
        const gpu = values(injectNoise(xc, config).to('cpu'));
        expect(maxAbsDiff(cpu, gpu)).toBeLessThan(1e-4);
      }
    });
  }
});

describe('injectNoise bad input', () => {
  const x = Tensor.fromTypedArray(new Float32Array(6), [2, 3]);
  test.each([
    [() => injectNoise({} as Tensor, { kind: 'linear' }), TypeError, 'Expected Tensor for x but received an object'],
    [
      () => injectNoise(x, undefined as unknown as NoiseConfig),
      TypeError,
      'Expected object with a kind for config but received undefined',
    ],
    [
      () => injectNoise(x, { kind: 'pink' as Kind }),
      RangeError,
      "Expected one of 'none', 'linear', 'optimal', 'gaussian', 'saltPepper' for config.kind but received 'pink' (string)",
    ],
    [
      () => injectNoise(x, { kind: 'linear', strength: -0.1 }),
      RangeError,
      'Expected non-negative finite number for config.strength but received -0.1 (number)',
    ],
    [
      () => injectNoise(x, { kind: 'gaussian', strength: NaN }),
      RangeError,
      'Expected non-negative finite number for config.strength but received NaN (number)',
    ],
    [
      () => injectNoise(x, { kind: 'gaussian', strength: Infinity }),
      RangeError,
      'Expected non-negative finite number for config.strength but received Infinity (number)',
    ],
    [
      () => injectNoise(x, { kind: 'saltPepper', strength: 1.5 }),
      RangeError,
      'Expected number between 0 and 1 for config.strength but received 1.5 (number)',
    ],
    [
      () => injectNoise(x, { kind: 'linear', strength: '0.3' as unknown as number }),
      TypeError,
      "Expected non-negative finite number for config.strength but received '0.3' (string)",
    ],
    [
      () => injectNoise(x, { kind: 'linear', axis: 2 }),
      RangeError,
      'Expected integer between -2 and 1 (the tensor has 2 dimensions) for config.axis but received 2 (number)',
    ],
    [
      () => injectNoise(x, { kind: 'linear', axis: -3 }),
      RangeError,
      'Expected integer between -2 and 1 (the tensor has 2 dimensions) for config.axis but received -3 (number)',
    ],
    [
      () => injectNoise(x, { kind: 'linear', axis: 0.5 }),
      RangeError,
      'Expected integer for config.axis but received 0.5 (number)',
    ],
    [
      () => injectNoise(x, { kind: 'gaussian', std: -1 }),
      RangeError,
      'Expected non-negative finite number for config.std but received -1 (number)',
    ],
    [
      () => injectNoise(x, { kind: 'gaussian', seed: -1 }),
      RangeError,
      'Expected non-negative safe integer or bigint for config.seed but received -1 (number)',
    ],
    [
      () => injectNoise(x, { kind: 'gaussian', detach: 'yes' as unknown as boolean }),
      TypeError,
      "Expected boolean for config.detach but received 'yes' (string)",
    ],
    [
      () => injectNoise(x, { kind: 'linear', strenght: 0.3 } as NoiseConfig),
      RangeError,
      "Unknown option 'strenght' in config; expected one of kind, axis, strength, mean, std, seed, detach",
    ],
    [
      () => injectNoise(Tensor.fromTypedArray(new BigInt64Array(4), [4]), { kind: 'linear' }),
      RangeError,
      'Expected a floating-point tensor (float32, float64, float16, bfloat16) for x but received dtype int64',
    ],
    [
      () => injectNoise(Tensor.fromTypedArray(new Uint8Array(4), [4]), { kind: 'linear' }),
      RangeError,
      'Expected a floating-point tensor (float32, float64, float16, bfloat16) for x but received dtype uint8',
    ],
    [
      () => injectNoise(Tensor.fromTypedArray(new Float32Array(0), [0, 3]), { kind: 'linear' }),
      RangeError,
      'Expected a non-empty tensor for x but received shape [0, 3]',
    ],
    [
      () => injectNoise(Tensor.fromTypedArray(new Float32Array([1]), []), { kind: 'linear' }),
      RangeError,
      'Expected a tensor with at least one dimension for x but received a scalar',
    ],
  ])('%#: %p', (fn, cls, message) => {
    expect(fn).toThrow(cls as ErrorConstructor);
    expect(fn).toThrow(message as string);
  });

  test('a disposed tensor is refused', () => {
    const t = Tensor.fromTypedArray(new Float32Array(4), [4]);
    t.dispose();
    expect(() => injectNoise(t, { kind: 'linear' })).toThrow('Tensor has been disposed');
  });
});
