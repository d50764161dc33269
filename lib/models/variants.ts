// The registry of named model variants (timm's and torchvision's names, plus small-image ones).
import { CNN_DEFAULTS, VIT_DEFAULTS } from '../defaults';
import { expectOneOf } from '../validate';
import type { CNNArchitecture, ViTArchitecture } from './config';
import type { NoiseSiteArchitecture } from './noise-site';

/** A named ViT architecture. `imageSize` is the input it takes. */
export interface ViTVariant {
  readonly family: 'vit';
  readonly description: string;
  readonly imageSize: number;
  readonly config: Readonly<ViTArchitecture>;
}

/** A named ResNet architecture. `imageSize` is the input it is meant for (any size works). */
export interface CNNVariant {
  readonly family: 'cnn';
  readonly description: string;
  readonly imageSize: number;
  readonly config: Readonly<CNNArchitecture>;
}

export type ModelVariant = ViTVariant | CNNVariant;

function vit(description: string, config: ViTArchitecture): ViTVariant {
  return { family: 'vit', description, imageSize: config.imageSize ?? VIT_DEFAULTS.imageSize, config };
}

function cnn(description: string, imageSize: number, config: CNNArchitecture): CNNVariant {
  return { family: 'cnn', description, imageSize, config };
}

/**
 * The registry: timm's ViT names (`<family>_<size>_patch<P>_<resolution>`) and torchvision's
 * ResNet names have the same architecture and parameter count as the library models of that
 * name; small-image variants are this package's, for 28x28 (Fashion-MNIST, MNIST) and 32x32
 * (CIFAR) inputs. Override any field with `createModel(name, overrides)`.
 */
export const MODEL_VARIANTS = {
  // timm ViTs, ImageNet-1k heads. Parameter counts: 5.7M, 22.1M, 86.6M, 304.3M at 224.
  /** ViT-Ti/16 at 224: embedDim 192, 12 blocks, 3 heads (5,717,416 parameters). */
  vit_tiny_patch16_224: vit('ViT-Tiny, 16px patches, 224px input', {
    imageSize: 224,
    patchSize: 16,
    embedDim: 192,
    depth: 12,
    numHeads: 3,
  }),
  /** ViT-Ti/16 at 384 (5,790,376 parameters). */
  vit_tiny_patch16_384: vit('ViT-Tiny, 16px patches, 384px input', {
    imageSize: 384,
    patchSize: 16,
    embedDim: 192,
    depth: 12,
    numHeads: 3,
  }),
  /** ViT-S/16 at 224: embedDim 384, 12 blocks, 6 heads (22,050,664 parameters). */
  vit_small_patch16_224: vit('ViT-Small, 16px patches, 224px input', {
    imageSize: 224,
    patchSize: 16,
    embedDim: 384,
    depth: 12,
    numHeads: 6,
  }),
  /** ViT-S/16 at 384 (22,196,584 parameters). */
  vit_small_patch16_384: vit('ViT-Small, 16px patches, 384px input', {
    imageSize: 384,
    patchSize: 16,
    embedDim: 384,
    depth: 12,
    numHeads: 6,
  }),
  /** ViT-B/16 at 224: embedDim 768, 12 blocks, 12 heads (86,567,656 parameters); the paper's model. */
  vit_base_patch16_224: vit("ViT-Base, 16px patches, 224px input (the paper's model)", {
    imageSize: 224,
    patchSize: 16,
    embedDim: 768,
    depth: 12,
    numHeads: 12,
  }),
  /** ViT-B/16 at 384 (86,859,496 parameters). */
  vit_base_patch16_384: vit('ViT-Base, 16px patches, 384px input', {
    imageSize: 384,
    patchSize: 16,
    embedDim: 768,
    depth: 12,
    numHeads: 12,
  }),
  /** ViT-L/16 at 224: embedDim 1024, 24 blocks, 16 heads (304,326,632 parameters). */
  vit_large_patch16_224: vit('ViT-Large, 16px patches, 224px input', {
    imageSize: 224,
    patchSize: 16,
    embedDim: 1024,
    depth: 24,
    numHeads: 16,
  }),
  /** ViT-L/16 at 384 (304,715,752 parameters). */
  vit_large_patch16_384: vit('ViT-Large, 16px patches, 384px input', {
    imageSize: 384,
    patchSize: 16,
    embedDim: 1024,
    depth: 24,
    numHeads: 16,
  }),

  // Small-image ViTs, 10 classes. 4px patches give a 7x7 (28px) or 8x8 (32px) token grid.
  /**
   * 28x28 grayscale (Fashion-MNIST): embedDim 64, 4 blocks, 4 heads, 205,066 parameters. Small
   * enough to train to useful accuracy in a minute on two CPU cores.
   */
  vit_mini_patch4_28: vit('Mini ViT for 28x28 grayscale, 10 classes (Fashion-MNIST)', {
    imageSize: 28,
    patchSize: 4,
    inChannels: 1,
    numClasses: 10,
    embedDim: 64,
    depth: 4,
    numHeads: 4,
  }),
  /**
   * 28x28 grayscale with 7x7 patches: the mini ViT on 16 tokens instead of 49 (205,066 parameters
   * as well: the patch embedding gains what the position embedding loses).
   * Twice as fast a step, and in a few hundred steps it learns more (main job: `noisynn compare`).
   */
  vit_mini_patch7_28: vit('Mini ViT with 7x7 patches for 28x28 grayscale, 10 classes (Fashion-MNIST)', {
    imageSize: 28,
    patchSize: 7,
    inChannels: 1,
    numClasses: 10,
    embedDim: 64,
    depth: 4,
    numHeads: 4,
  }),
  /** 32x32 RGB (CIFAR-10): the same mini ViT, 208,074 parameters. */
  vit_mini_patch4_32: vit('Mini ViT for 32x32 RGB, 10 classes (CIFAR-10)', {
    imageSize: 32,
    patchSize: 4,
    inChannels: 3,
    numClasses: 10,
    embedDim: 64,
    depth: 4,
    numHeads: 4,
  }),
  /** 32x32 RGB (CIFAR-10): ViT-Tiny's width and depth on an 8x8 grid, 5,362,762 parameters. */
  vit_tiny_patch4_32: vit('ViT-Tiny for 32x32 RGB, 10 classes (CIFAR-10)', {
    imageSize: 32,
    patchSize: 4,
    inChannels: 3,
    numClasses: 10,
    embedDim: 192,
    depth: 12,
    numHeads: 3,
  }),

  // torchvision ResNets, ImageNet-1k heads.
  /** ResNet-18: BasicBlock [2, 2, 2, 2] (11,689,512 parameters). */
  resnet18: cnn('ResNet-18 (torchvision)', 224, { block: 'basic', layers: [2, 2, 2, 2] }),
  /** ResNet-34: BasicBlock [3, 4, 6, 3] (21,797,672 parameters). */
  resnet34: cnn('ResNet-34 (torchvision)', 224, { block: 'basic', layers: [3, 4, 6, 3] }),
  /** ResNet-50: Bottleneck [3, 4, 6, 3] (25,557,032 parameters). */
  resnet50: cnn('ResNet-50 (torchvision)', 224, { block: 'bottleneck', layers: [3, 4, 6, 3] }),
  /** ResNet-101: Bottleneck [3, 4, 23, 3] (44,549,160 parameters). */
  resnet101: cnn('ResNet-101 (torchvision)', 224, { block: 'bottleneck', layers: [3, 4, 23, 3] }),
  /** ResNet-152: Bottleneck [3, 8, 36, 3] (60,192,808 parameters). */
  resnet152: cnn('ResNet-152 (torchvision)', 224, { block: 'bottleneck', layers: [3, 8, 36, 3] }),

  // Small-image ResNets, 10 classes: 3x3 stride-1 stem, no max-pool (feature maps 28/32 -> 4).
  /** ResNet-18 for 28x28 grayscale (Fashion-MNIST), 11,172,810 parameters. */
  resnet18_small_28: cnn('ResNet-18 with the small stem for 28x28 grayscale, 10 classes', 28, {
    block: 'basic',
    layers: [2, 2, 2, 2],
    inChannels: 1,
    numClasses: 10,
    stem: 'small',
  }),
  /** ResNet-18 for 32x32 RGB (CIFAR-10), 11,173,962 parameters. */
  resnet18_small_32: cnn('ResNet-18 with the small stem for 32x32 RGB, 10 classes', 32, {
    block: 'basic',
    layers: [2, 2, 2, 2],
    inChannels: 3,
    numClasses: 10,
    stem: 'small',
  }),
} as const satisfies Record<string, ModelVariant>;

/** The name of a registered variant. */
export type ModelVariantName = keyof typeof MODEL_VARIANTS;
/** Names of ViT variants, accepted by {@link NoisyViT.create}. */
export type ViTVariantName = {
  [K in ModelVariantName]: (typeof MODEL_VARIANTS)[K]['family'] extends 'vit' ? K : never;
}[ModelVariantName];
/** Names of ResNet variants, accepted by {@link NoisyCNN.create}. */
export type CNNVariantName = {
  [K in ModelVariantName]: (typeof MODEL_VARIANTS)[K]['family'] extends 'cnn' ? K : never;
}[ModelVariantName];

const VARIANT_NAMES = Object.keys(MODEL_VARIANTS) as ModelVariantName[];

/**
 * Names of every registered model variant, in registry order.
 *
 * @example
 * listModels(); // ['vit_tiny_patch16_224', ..., 'resnet18_small_32']
 * MODEL_VARIANTS.vit_mini_patch4_28.description; // 'Mini ViT for 28x28 grayscale, ...'
 */
export function listModels(): ModelVariantName[] {
  return [...VARIANT_NAMES];
}

/** A registered variant by name (of `family`, when given); the RangeError lists the known names. */
export function lookupVariant(
  name: unknown,
  family?: 'vit' | 'cnn',
): { name: ModelVariantName; variant: ModelVariant } {
  const known = family === undefined ? VARIANT_NAMES : VARIANT_NAMES.filter((n) => MODEL_VARIANTS[n].family === family);
  const valid = expectOneOf(name, 'name', known);
  return { name: valid, variant: MODEL_VARIANTS[valid] };
}

/** The images a variant takes and the classes its head has, with the family defaults filled in. */
export function variantInputs(variant: ModelVariant): { inChannels: number; imageSize: number; numClasses: number } {
  const defaults = variant.family === 'vit' ? VIT_DEFAULTS : CNN_DEFAULTS;
  return {
    inChannels: variant.config.inChannels ?? defaults.inChannels,
    imageSize: variant.imageSize,
    numClasses: variant.config.numClasses ?? defaults.numClasses,
  };
}

/** What a variant's noise layer indices refer to: its depth (ViT) or blocks per stage (ResNet). */
export function variantNoiseSite(variant: ModelVariant): NoiseSiteArchitecture {
  return variant.family === 'vit'
    ? { family: 'vit', depth: variant.config.depth ?? VIT_DEFAULTS.depth }
    : { family: 'cnn', layers: variant.config.layers ?? CNN_DEFAULTS.layers };
}
