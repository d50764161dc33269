// injectNoise: the NoisyNN noise op on a Tensor, and the shared validation of noise configs.
import { binding, NativeNoiseConfig } from './binding';
import { seedOrRandom } from './seeds';
import { Tensor, handleOf } from './tensor';
import {
  expectBoolean,
  expectInteger,
  expectKnownKeys,
  expectNonNegativeNumber,
  expectNumber,
  expectNumberInRange,
  expectOneOf,
  expectOptions,
  typeError,
  rangeError,
} from './validate';

export type NoiseKind = 'none' | 'linear' | 'optimal' | 'gaussian' | 'saltPepper';
export const NOISE_KINDS: readonly NoiseKind[] = ['none', 'linear', 'optimal', 'gaussian', 'saltPepper'];

/** The noise of NoisyNN (arXiv 2309.10625), applied along one "mixing" axis of x. */
export interface NoiseConfig {
  /**
   * - 'linear': out_i = x_i + a (x_{(i+1) mod k} - x_i), the circular-shift quality matrix Q = a(S - I).
   *   The official code has it in its CNN only (a = 0.4, along the batch); at a ViT's attention
   *   site it is this package's addition.
   * - 'optimal': out_i = (x_i + sum_j x_j) / (k + 1), the optimal quality matrix.
   * - 'gaussian': out = x + s (mean + std z), z ~ N(0, 1) (the official code calls std "var").
   * - 'saltPepper': the official "impulse" noise: each element becomes, with probability p/2, the
   *   salt and with probability p/2 the pepper, one global max and one global min of the whole
   *   tensor (detached; a NaN anywhere makes both NaN). The axis plays no part, so a batch of one
   *   image is noised too.
   * - 'none': the identity (a copy).
   */
  kind: NoiseKind;
  /** The mixing axis (k = x.shape[axis]); negative counts from the end. Default 0, the batch. */
  axis?: number;
  /** a for linear, s for gaussian, p for saltPepper (in [0, 1]); defaults in {@link DEFAULT_STRENGTH}: 0.3, 0.1, 0.1. */
  strength?: number;
  /** Gaussian mean m. Default 0 (the official code's). */
  mean?: number;
  /** Gaussian standard deviation d. Default 1 (the official code's "var", used as a std). */
  std?: number;
  /** Seed of the counter-based (Philox) generator: same seed, same noise, on CPU and CUDA. Default: random. */
  seed?: number | bigint;
  /** The noise term carries no gradient (only the identity path does), as in the official CNN code. Default false. */
  detach?: boolean;
}

/**
 * The strength of each kind when none is given: the official code's defaults where it has one.
 * - linear a = 0.3: the paper's text (its CNN script runs 0.4, the 'official' CNN preset's value).
 * - gaussian s = 0.1, with mean 0 and std 1: the official ViT's parameters.py.
 * - saltPepper p = 0.1: the official ViT's impulse probability.
 */
export const DEFAULT_STRENGTH: Readonly<Record<NoiseKind, number>> = Object.freeze({
  none: 0,
  linear: 0.3,
  optimal: 0, // optimal Q has no free parameter
  gaussian: 0.1,
  saltPepper: 0.1,
});

const NOISE_KEYS = ['kind', 'axis', 'strength', 'mean', 'std', 'seed', 'detach'];

/**
 * Validates a noise config and fills every default. `extraKeys` lets callers (model noise
 * options) accept their own keys, which they validate themselves. The axis is returned
 * unresolved (it may be negative); the native op resolves it against the tensor.
 */
export function normalizeNoiseConfig(
  config: unknown,
  name = 'config',
  extraKeys: readonly string[] = [],
): NativeNoiseConfig {
  const c = expectOptions(config, name);
  if (config === undefined) throw typeError(name, 'object with a kind', config);
  expectKnownKeys(c, name, [...NOISE_KEYS, ...extraKeys]);
  const kind = expectOneOf(c.kind, `${name}.kind`, NOISE_KINDS);
  const axis = c.axis === undefined ? 0 : expectInteger(c.axis, `${name}.axis`);
  let strength = DEFAULT_STRENGTH[kind];
  if (c.strength !== undefined) {
    strength =
      kind === 'saltPepper'
        ? expectNumberInRange(c.strength, `${name}.strength`, 0, 1)
        : expectNonNegativeNumber(c.strength, `${name}.strength`);
  }
  const mean = c.mean === undefined ? 0 : expectNumber(c.mean, `${name}.mean`);
  const std = c.std === undefined ? 1 : expectNonNegativeNumber(c.std, `${name}.std`);
  const seed = seedOrRandom(c.seed, `${name}.seed`);
  const detach = c.detach === undefined ? false : expectBoolean(c.detach, `${name}.detach`);
  return { kind, axis, strength, mean, std, seed, offset: '0', detach };
}

/** Resolves a possibly negative axis against a rank, with a RangeError naming the option. */
export function resolveAxis(axis: number, rank: number, name: string): number {
  if (axis < -rank || axis >= rank) {
    throw rangeError(name, `integer between ${-rank} and ${rank - 1} (the tensor has ${rank} dimensions)`, axis);
  }
  return axis < 0 ? axis + rank : axis;
}

const FLOAT_DTYPES = ['float32', 'float64', 'float16', 'bfloat16'];

/**
 * Injects NoisyNN noise into `x` along `config.axis` and returns a new Tensor (x is untouched).
 *
 * Runs the fused native kernel (CPU or CUDA, wherever x lives). The op is differentiable:
 * linear kinds backpropagate through the transpose of I + Q, gaussian is the identity,
 * saltPepper passes no gradient to replaced elements, and `detach` makes every kind the identity.
 * When x requires grad (see `Tensor.setRequiresGrad`), so does the output, and its `backward()`
 * accumulates into `x.grad`.
 *
 * @param x A floating-point, non-empty Tensor.
 * @param config See {@link NoiseConfig}; `kind` is required.
 * @throws TypeError when x is not a Tensor or a config field has the wrong type.
 * @throws RangeError for an unknown kind, a negative or non-finite strength, p outside [0, 1],
 *   an axis out of range, an integer dtype or an empty tensor.
 * @example
 * const x = Tensor.fromTypedArray(new Float32Array(8 * 16), [8, 16]);
 * const y = injectNoise(x, { kind: 'linear', strength: 0.3 }); // mixes each row with the next
 */
export function injectNoise(x: Tensor, config: NoiseConfig): Tensor {
  const handle = handleOf(x, 'x');
  const cfg = normalizeNoiseConfig(config, 'config');
  const shape = handle.shape();
  const dtype = handle.dtype();
  if (!FLOAT_DTYPES.includes(dtype)) {
    throw new RangeError(
      `Expected a floating-point tensor (float32, float64, float16, bfloat16) for x but received dtype ${dtype}`,
    );
  }
  if (shape.length === 0)
    throw new RangeError('Expected a tensor with at least one dimension for x but received a scalar');
  if (shape.some((d) => d === 0)) {
    throw new RangeError(`Expected a non-empty tensor for x but received shape [${shape.join(', ')}]`);
  }
  cfg.axis = resolveAxis(cfg.axis, shape.length, 'config.axis');
  // The output records the op for backward() exactly when x does (x requiresGrad, or was computed from one that does).
  return Tensor._fromHandle(binding.injectNoise(handle, cfg, handle.requiresGrad()));
}
