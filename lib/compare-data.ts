// Data helpers of the comparison and the CLI: seeded subsets, normalization presets, display
// names, and the default model for an image shape.
import { CIFAR10, CIFAR100, Dataset, FashionMNIST, MNIST, TensorDataset } from './datasets';
import { MODEL_VARIANTS, ModelVariantName } from './models';
import { NormalizePreset } from './transforms';

/** The normalization preset for a built-in dataset, or null for one without a known preset. */
export function normalizationFor(dataset: Dataset): NormalizePreset | null {
  if (dataset instanceof FashionMNIST) return 'fashion-mnist';
  if (dataset instanceof MNIST) return 'mnist';
  if (dataset instanceof CIFAR10) return 'cifar10';
  if (dataset instanceof CIFAR100) return 'cifar100';
  return dataset.imageShape[0] === 3 ? 'imagenet' : null;
}

/** How reports name a dataset: 'Fashion-MNIST', 'CIFAR-10', ... or its class name. */
export function displayName(dataset: Dataset): string {
  if (dataset instanceof FashionMNIST) return 'Fashion-MNIST';
  if (dataset instanceof MNIST) return 'MNIST';
  if (dataset instanceof CIFAR10) return 'CIFAR-10';
  if (dataset instanceof CIFAR100) return 'CIFAR-100';
  return dataset.constructor.name;
}

/** A seeded permutation of 0..n-1 (Fisher-Yates over a splitmix32 stream). */
export function permutation(n: number, seed: number): Uint32Array {
  let state = (seed >>> 0) ^ 0x9e3779b9;
  const next = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/**
 * `count` samples of `dataset` drawn without replacement by a seeded permutation, copied into a
 * TensorDataset (the images as stored, so transforms still apply). Returns `dataset` itself when
 * count is 0 or not smaller than its length.
 */
export async function randomSubset(dataset: Dataset, count: number, seed: number): Promise<Dataset> {
  if (count === 0 || count >= dataset.length) return dataset;
  const [c, h, w] = dataset.imageShape;
  const per = c * h * w;
  const order = permutation(dataset.length, seed).subarray(0, count);
  const first = await dataset.get(order[0]);
  const float = first.image.dtype === 'float32';
  first.image.dispose();
  const pixels = float ? new Float32Array(count * per) : new Uint8Array(count * per);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const s = await dataset.get(order[i]);
    pixels.set(s.image.toTypedArray() as Uint8Array | Float32Array, i * per);
    labels[i] = s.label;
    s.image.dispose();
  }
  return new TensorDataset({ images: pixels, shape: [count, c, h, w], labels, classes: dataset.classes });
}

// The model each family uses for a dataset's image shape ([C, H, W] as 'CxHxW').
const DEFAULT_MODELS: Record<'vit' | 'cnn', Record<string, ModelVariantName>> = {
  vit: { '1x28x28': 'vit_mini_patch4_28', '3x32x32': 'vit_mini_patch4_32', '3x224x224': 'vit_tiny_patch16_224' },
  cnn: { '1x28x28': 'resnet18_small_28', '3x32x32': 'resnet18_small_32', '3x224x224': 'resnet18' },
};

/** The default model of a family for a dataset's image shape [C, H, W], or null when none fits. */
export function defaultModelFor(family: 'vit' | 'cnn', imageShape: readonly number[]): ModelVariantName | null {
  return DEFAULT_MODELS[family][imageShape.join('x')] ?? null;
}

/**
 * Checks that a variant takes the dataset's images.
 * @throws RangeError naming both shapes when it does not.
 */
export function checkModelFitsData(name: ModelVariantName, imageShape: readonly number[]): void {
  const v = MODEL_VARIANTS[name];
  const [c, h, w] = imageShape;
  const inChannels = (v.config as { inChannels?: number }).inChannels ?? 3;
  if (inChannels !== c) {
    throw new RangeError(`Model ${name} takes ${inChannels}-channel images but the dataset's have ${c} channel${c === 1 ? '' : 's'} (shape [${imageShape.join(', ')}])`);
  }
  if (v.family === 'vit' && (h !== v.imageSize || w !== v.imageSize)) {
    throw new RangeError(`Model ${name} takes ${v.imageSize}x${v.imageSize} images but the dataset's are ${h}x${w}`);
  }
}
