// Per-sample transforms: the public constructors, normalization presets, and their validation
// and shape resolution into the flat steps the native loader runs.
import type { NativeTransform } from './binding';
import {
  describe,
  expectKnownKeys,
  expectNumberInRange,
  expectNonNegativeInteger,
  expectOneOf,
  expectOptions,
  expectPositiveInteger,
  rangeError,
  typeError,
} from './validate';

/** A size: one number for a square, or [height, width]. */
export type Size = number | readonly [number, number];

export type NormalizePreset = 'fashion-mnist' | 'mnist' | 'cifar10' | 'cifar100' | 'imagenet';

/** Per-channel mean and standard deviation of [0, 1] pixels. */
export interface ChannelStats {
  mean: readonly number[];
  std: readonly number[];
}

/**
 * Mean and std of the training images, on [0, 1] pixels.
 * Fashion-MNIST: measured on the 60000 training images of Debian's dataset-fashion-mnist.
 * CIFAR-10: the true per-channel std (0.247, ...), not the (0.2023, ...) that circulates, which
 * is a mean of per-image stds.
 */
export const NORMALIZE_PRESETS: Readonly<Record<NormalizePreset, ChannelStats>> = {
  'fashion-mnist': { mean: [0.286], std: [0.353] },
  mnist: { mean: [0.1307], std: [0.3081] },
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  cifar100: { mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
};
const PRESET_NAMES = Object.keys(NORMALIZE_PRESETS) as NormalizePreset[];

/** One transform step. Build them with the `transforms` helpers, or write the objects directly. */
export type Transform =
  | { kind: 'randomCrop'; size: Size; padding?: number }
  | { kind: 'centerCrop'; size: Size }
  | { kind: 'horizontalFlip'; p?: number }
  | { kind: 'verticalFlip'; p?: number }
  | { kind: 'resize'; size: Size; interpolation?: 'bilinear' | 'nearest' }
  | {
      kind: 'normalize';
      preset?: NormalizePreset;
      mean?: number | readonly number[];
      std?: number | readonly number[];
    };

export const TRANSFORM_KINDS = [
  'randomCrop',
  'centerCrop',
  'horizontalFlip',
  'verticalFlip',
  'resize',
  'normalize',
] as const;

/**
 * Transform constructors. Every step runs natively, per sample, on the loader's threads; random
 * steps draw from a stream keyed by (seed, epoch, sample index), so a given seed gives the same
 * augmentations whatever the number of workers. Images reach the model as float32 in [0, 1]
 * (uint8 sources are divided by 255), then normalized if `normalize` is the last step.
 *
 * @example
 * const loader = new DataLoader(new FashionMNIST({ split: 'train' }), {
 *   batchSize: 128,
 *   transforms: [transforms.randomCrop(28, { padding: 4 }), transforms.horizontalFlip(), transforms.normalize('fashion-mnist')],
 * });
 */
export const transforms = {
  /**
   * Pads every side with `padding` zero pixels (default 0), then crops `size` at a uniformly drawn offset.
   * @throws RangeError (at DataLoader construction) when `size` exceeds the image plus padding.
   */
  randomCrop(size: Size, options?: { padding?: number }): Transform {
    const o = expectOptions(options);
    expectKnownKeys(o, 'randomCrop options', ['padding']);
    return { kind: 'randomCrop', size, padding: o.padding as number | undefined };
  },
  /** Crops `size` around the centre (torchvision's offsets); dimensions smaller than the crop are zero-padded. */
  centerCrop(size: Size): Transform {
    return { kind: 'centerCrop', size };
  },
  /** Mirrors left-right with probability `p` (default 0.5). */
  horizontalFlip(p = 0.5): Transform {
    return { kind: 'horizontalFlip', p };
  },
  /** Mirrors top-bottom with probability `p` (default 0.5). */
  verticalFlip(p = 0.5): Transform {
    return { kind: 'verticalFlip', p };
  },
  /**
   * Resizes to [height, width], or, for a single number, makes the shorter side that long and keeps
   * the aspect ratio (torchvision's rule). Bilinear with half-pixel centres and no antialiasing
   * (like F.interpolate(align_corners=False)), or 'nearest'. Downscale large images at decode time
   * instead (ImageFolder's imageSize).
   */
  resize(size: Size, options?: { interpolation?: 'bilinear' | 'nearest' }): Transform {
    const o = expectOptions(options);
    expectKnownKeys(o, 'resize options', ['interpolation']);
    return { kind: 'resize', size, interpolation: o.interpolation as 'bilinear' | 'nearest' | undefined };
  },
  /**
   * (x - mean) / std per channel, fused with the uint8-to-float conversion. Takes a preset name
   * ('fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagenet') or {mean, std} on [0, 1] pixels
   * (one value applies to every channel). Must be the last step.
   */
  normalize(stats: NormalizePreset | { mean: number | readonly number[]; std: number | readonly number[] }): Transform {
    if (typeof stats === 'string') return { kind: 'normalize', preset: stats };
    const o = expectOptions(stats, 'normalize stats');
    return { kind: 'normalize', mean: o.mean as number[], std: o.std as number[] };
  },
};

/**
 * The largest image side a transform may produce, and ImageFolder's imageSize: 8x the largest
 * resolutions models train at, while one float32 3x8192x8192 sample already takes 805 MB (the
 * DataLoader also checks that a whole batch fits in memory).
 */
export const MAX_IMAGE_SIDE = 8192;

/** One image side: a positive integer of at most MAX_IMAGE_SIDE pixels. */
export function expectImageSide(value: unknown, name: string): number {
  const s = expectPositiveInteger(value, name);
  if (s > MAX_IMAGE_SIDE) throw rangeError(name, `positive integer of at most ${MAX_IMAGE_SIDE} pixels`, s);
  return s;
}

function expectSize(value: unknown, name: string): [number, number] {
  if (typeof value === 'number') {
    const s = expectImageSide(value, name);
    return [s, s];
  }
  if (!Array.isArray(value)) throw typeError(name, 'positive integer or [height, width]', value);
  if (value.length !== 2) throw rangeError(name, 'positive integer or [height, width]', value);
  return [expectImageSide(value[0], `${name}[0]`), expectImageSide(value[1], `${name}[1]`)];
}

function expectStats(value: unknown, name: string, channels: number): number[] {
  const list = typeof value === 'number' ? new Array<number>(channels).fill(value) : value;
  if (!Array.isArray(list)) throw typeError(name, 'number or array of numbers', value);
  if (list.length === 1 && channels > 1) return expectStats(list[0], name, channels);
  if (list.length !== channels) {
    throw new RangeError(
      `Expected ${channels} value(s) for ${name} (one per image channel) but received ${describe(value)}`,
    );
  }
  return list.map((v, i) => {
    if (typeof v !== 'number') throw typeError(`${name}[${i}]`, 'finite number', v);
    if (!Number.isFinite(v)) throw rangeError(`${name}[${i}]`, 'finite number', v);
    return v;
  });
}

/** The validated native steps for images of `inputShape` [C, H, W], and the shape they produce. */
export interface ResolvedTransforms {
  steps: NativeTransform[];
  outputShape: [number, number, number];
}

/**
 * Validates `value` (an array of transforms) for images of shape [C, H, W] and resolves sizes,
 * presets and defaults.
 * @throws TypeError / RangeError naming the step, e.g. `transforms[0].padding`.
 */
export function resolveTransforms(
  value: unknown,
  inputShape: readonly [number, number, number],
  name = 'transforms',
): ResolvedTransforms {
  if (value === undefined) return { steps: [], outputShape: [...inputShape] };
  if (!Array.isArray(value)) throw typeError(name, 'array of transforms', value);
  const [channels] = inputShape;
  let [, h, w] = inputShape;
  const steps: NativeTransform[] = [];
  value.forEach((raw, i) => {
    const at = `${name}[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw typeError(at, 'transform object', raw);
    const t = raw as Record<string, unknown>;
    const kind = expectOneOf(t.kind, `${at}.kind`, TRANSFORM_KINDS);
    switch (kind) {
      case 'randomCrop': {
        expectKnownKeys(t, at, ['kind', 'size', 'padding']);
        const [ch, cw] = expectSize(t.size, `${at}.size`);
        const padding = t.padding === undefined ? 0 : expectNonNegativeInteger(t.padding, `${at}.padding`);
        if (ch > h + 2 * padding || cw > w + 2 * padding) {
          throw new RangeError(
            `${at}: randomCrop size ${ch}x${cw} is larger than the ${h}x${w} image plus padding ${padding}`,
          );
        }
        steps.push({ kind, height: ch, width: cw, padding });
        [h, w] = [ch, cw];
        break;
      }
      case 'centerCrop': {
        expectKnownKeys(t, at, ['kind', 'size']);
        [h, w] = expectSize(t.size, `${at}.size`);
        steps.push({ kind, height: h, width: w });
        break;
      }
      case 'horizontalFlip':
      case 'verticalFlip': {
        expectKnownKeys(t, at, ['kind', 'p']);
        const p = t.p === undefined ? 0.5 : expectNumberInRange(t.p, `${at}.p`, 0, 1);
        steps.push({ kind, p });
        break;
      }
      case 'resize': {
        expectKnownKeys(t, at, ['kind', 'size', 'interpolation']);
        if (typeof t.size === 'number') {
          // torchvision: the shorter side becomes `size`, the longer keeps the aspect ratio (floored).
          const s = expectImageSide(t.size, `${at}.size`);
          if (h <= w) [h, w] = [s, Math.max(1, Math.floor((s * w) / h))];
          else [h, w] = [Math.max(1, Math.floor((s * h) / w)), s];
          if (Math.max(h, w) > MAX_IMAGE_SIDE) {
            throw new RangeError(
              `${at}: resize to a shorter side of ${s} makes the longer one ${Math.max(h, w)} pixels, more than ${MAX_IMAGE_SIDE}`,
            );
          }
        } else {
          [h, w] = expectSize(t.size, `${at}.size`);
        }
        const interpolation =
          t.interpolation === undefined
            ? 'bilinear'
            : expectOneOf(t.interpolation, `${at}.interpolation`, ['bilinear', 'nearest'] as const);
        steps.push({ kind, height: h, width: w, interpolation });
        break;
      }
      case 'normalize': {
        expectKnownKeys(t, at, ['kind', 'preset', 'mean', 'std']);
        if (i !== value.length - 1) throw new RangeError(`${at}: normalize must be the last transform`);
        let stats: ChannelStats;
        if (t.preset !== undefined) {
          if (t.mean !== undefined || t.std !== undefined)
            throw new RangeError(`${at}: give either preset or mean and std, not both`);
          stats = NORMALIZE_PRESETS[expectOneOf(t.preset, `${at}.preset`, PRESET_NAMES)];
          if (stats.mean.length !== channels) {
            throw new RangeError(
              `${at}: normalize preset '${t.preset}' is for ${stats.mean.length}-channel images but these have ${channels}`,
            );
          }
        } else {
          if (t.mean === undefined || t.std === undefined)
            throw new RangeError(`${at}: normalize needs a preset or both mean and std`);
          stats = { mean: expectStats(t.mean, `${at}.mean`, channels), std: expectStats(t.std, `${at}.std`, channels) };
          stats.std.forEach((s, c) => {
            if (s <= 0) throw rangeError(`${at}.std[${c}]`, 'positive number', s);
          });
        }
        steps.push({ kind, mean: [...stats.mean], std: [...stats.std] });
        break;
      }
    }
  });
  return { steps, outputShape: [channels, h, w] };
}
