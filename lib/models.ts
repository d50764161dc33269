// NoisyViT and NoisyCNN: the model classes, their noise options and the registry of named variants.
import { normalizeNoiseConfig, NoiseKind } from './noise';
import { seedOrRandom } from './seeds';
import { binding, NativeCNNConfig, NativeModel, NativeModelNoise, NativeViTConfig } from './binding';
import { Tensor, handleOf, Device } from './tensor';
import {
  expectBoolean,
  expectDevice,
  expectInteger,
  expectKnownKeys,
  expectNonEmptyString,
  expectOneOf,
  expectOptions,
  expectPositiveInteger,
  expectPositiveNumber,
  rangeError,
  typeError,
} from './validate';

// ---------------------------------------------------------------------------------------------
// Configs
// ---------------------------------------------------------------------------------------------

/**
 * Where, when and how a model injects NoisyNN noise: the {@link injectNoise} knobs (without the
 * numeric axis) plus the site. Every field but `kind` is optional.
 */
export interface ModelNoiseConfig {
  /** 'linear' | 'optimal' | 'gaussian' | 'saltPepper' | 'none' (see NoiseConfig). */
  kind: NoiseKind;
  /** a for linear (default 0.3), s for gaussian (default 1), p for saltPepper (default 0.1). */
  strength?: number;
  /** Gaussian mean. Default 0. */
  mean?: number;
  /** Gaussian standard deviation. Default 1. */
  std?: number;
  /** Seed of the noise stream; each forward draws fresh noise from it. Default: random. */
  seed?: number | bigint;
  /** The noise term carries no gradient (the official CNN code). Default false. */
  detach?: boolean;
  /**
   * Which layer. NoisyViT: a block index, negative from the end (default -1, the last block,
   * as in the official code). NoisyCNN: `{stage, block}` with stage 1..4 (torchvision's
   * layer1..layer4) and a block index within it, negative from the end (default
   * `{stage: 4, block: -1}`, the last block of the last stage).
   */
  layer?: number | { stage?: number; block?: number };
  /**
   * NoisyViT only. 'attention' (default, the official site): the LayerNorm output that feeds
   * qkv, the residual path untouched. 'block': the tokens entering the block (the public
   * reimplementations). NoisyCNN accepts only 'block': the input of a residual block.
   */
  site?: 'attention' | 'block';
  /**
   * The mixing axis. 'batch' (default, the official code): k = batch size, each sample mixed
   * with the others in its batch. 'spatial': the rows of the token grid (ViT) or of the feature
   * map (CNN), as in the public reimplementations. The class token is never mixed.
   */
  axis?: 'batch' | 'spatial';
  /**
   * When noise applies: 'train' (default: in train() mode only), 'eval' (in eval() mode only,
   * the paper's headline protocol) or 'always'.
   */
  when?: 'train' | 'eval' | 'always';
}

/**
 * Named noise settings.
 * - 'default': optimal noise along the batch at the official site of the last layer, while
 *   training only. What a model gets when `noise` is omitted.
 * - 'official': the same noise at evaluation only: the paper's headline protocol, whose
 *   accuracy leaks labels through class-sorted test batches (see DESIGN.md).
 * - 'none': no noise; the plain ViT / ResNet, bit for bit.
 */
export type ModelNoisePreset = 'default' | 'official' | 'none';
export const MODEL_NOISE_PRESETS: readonly ModelNoisePreset[] = ['default', 'official', 'none'];

export type ModelNoiseOption = ModelNoisePreset | ModelNoiseConfig;

/** A model's noise with every default filled in (what `model.noise` returns). */
export interface ResolvedModelNoise {
  kind: NoiseKind;
  strength: number;
  mean: number;
  std: number;
  /** Decimal string of the 64-bit seed. */
  seed: string;
  detach: boolean;
  site: 'attention' | 'block';
  axis: 'batch' | 'spatial';
  when: 'train' | 'eval' | 'always';
  /** ViT: the block index (non-negative). CNN: stage 1..4 and block index (non-negative). */
  layer: number | { stage: number; block: number };
}

/**
 * NoisyViT hyper-parameters: timm's VisionTransformer (class token, learned position
 * embedding, pre-norm blocks with LayerNorm eps 1e-6, one qkv Linear with bias, MLP
 * fc1-GELU-fc2, final LayerNorm, linear head on the class token).
 */
export interface ViTConfig {
  /** Input height and width in pixels; a multiple of patchSize. Default 224. */
  imageSize?: number;
  /** Side of the square patches. Default 16. */
  patchSize?: number;
  /** Input channels. Default 3. */
  inChannels?: number;
  /** Classes of the linear head. Default 1000. */
  numClasses?: number;
  /** Token width; a multiple of numHeads. Default 768. */
  embedDim?: number;
  /** Transformer blocks. Default 12. */
  depth?: number;
  /** Attention heads. Default 12. */
  numHeads?: number;
  /** MLP hidden width as a multiple of embedDim (timm truncates to an integer). Default 4. */
  mlpRatio?: number;
  /** timm's drop_rate: after the position embedding, in attention output and MLP, before the head. In [0, 1). Default 0. */
  dropout?: number;
  /** timm's drop_path_rate: stochastic depth rising linearly to this at the last block. In [0, 1). Default 0. */
  dropPath?: number;
  /** Seed of the weight initialisation (timm's scheme). Default: random. */
  initSeed?: number | bigint;
  /** The noise site. Default 'default' (see {@link ModelNoisePreset}). */
  noise?: ModelNoiseOption;
}

/**
 * NoisyCNN hyper-parameters: torchvision's ResNet (BatchNorm, ResNet v1.5 Bottleneck), with
 * either torchvision's stem or a small-image stem.
 */
export interface CNNConfig {
  /** 'basic' (ResNet-18/34) or 'bottleneck' (ResNet-50/101/152). Default 'basic'. */
  block?: 'basic' | 'bottleneck';
  /** Blocks in each of the four stages. Default [2, 2, 2, 2] (ResNet-18). */
  layers?: readonly [number, number, number, number];
  /** Input channels. Default 3. */
  inChannels?: number;
  /** Classes of the fc head. Default 1000. */
  numClasses?: number;
  /**
   * 'imagenet' (default): torchvision's 7x7 stride-2 conv and 3x3 max-pool. 'small': a 3x3
   * stride-1 conv and no max-pool, for 28 and 32 pixel inputs.
   */
  stem?: 'imagenet' | 'small';
  /** Seed of the weight initialisation (torchvision's scheme). Default: random. */
  initSeed?: number | bigint;
  /** The noise site. Default 'default' (see {@link ModelNoisePreset}). */
  noise?: ModelNoiseOption;
}

/** A NoisyViT's architecture with every default filled in. */
export type ResolvedViTConfig = Readonly<Omit<NativeViTConfig, 'initSeed'>> & { readonly initSeed: string };
/** A NoisyCNN's architecture with every default filled in. */
export type ResolvedCNNConfig = Readonly<Omit<NativeCNNConfig, 'initSeed' | 'layers'>> & {
  readonly layers: readonly [number, number, number, number];
  readonly initSeed: string;
};

const VIT_DEFAULTS: Omit<NativeViTConfig, 'initSeed'> = {
  imageSize: 224,
  patchSize: 16,
  inChannels: 3,
  numClasses: 1000,
  embedDim: 768,
  depth: 12,
  numHeads: 12,
  mlpRatio: 4,
  dropout: 0,
  dropPath: 0,
};

const CNN_DEFAULTS: Omit<ResolvedCNNConfig, 'initSeed'> = {
  block: 'basic',
  layers: [2, 2, 2, 2],
  inChannels: 3,
  numClasses: 1000,
  stem: 'imagenet',
};

const VIT_KEYS = [...Object.keys(VIT_DEFAULTS), 'initSeed', 'noise'];
const CNN_KEYS = [...Object.keys(CNN_DEFAULTS), 'initSeed', 'noise'];

// ---------------------------------------------------------------------------------------------
// The registry of named variants
// ---------------------------------------------------------------------------------------------

type ViTArchitecture = Omit<ViTConfig, 'noise' | 'initSeed'>;
type CNNArchitecture = Omit<CNNConfig, 'noise' | 'initSeed'>;

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
  vit_tiny_patch16_224: vit('ViT-Tiny, 16px patches, 224px input', { imageSize: 224, patchSize: 16, embedDim: 192, depth: 12, numHeads: 3 }),
  /** ViT-Ti/16 at 384 (5,790,376 parameters). */
  vit_tiny_patch16_384: vit('ViT-Tiny, 16px patches, 384px input', { imageSize: 384, patchSize: 16, embedDim: 192, depth: 12, numHeads: 3 }),
  /** ViT-S/16 at 224: embedDim 384, 12 blocks, 6 heads (22,050,664 parameters). */
  vit_small_patch16_224: vit('ViT-Small, 16px patches, 224px input', { imageSize: 224, patchSize: 16, embedDim: 384, depth: 12, numHeads: 6 }),
  /** ViT-S/16 at 384 (22,196,584 parameters). */
  vit_small_patch16_384: vit('ViT-Small, 16px patches, 384px input', { imageSize: 384, patchSize: 16, embedDim: 384, depth: 12, numHeads: 6 }),
  /** ViT-B/16 at 224: embedDim 768, 12 blocks, 12 heads (86,567,656 parameters); the paper's model. */
  vit_base_patch16_224: vit('ViT-Base, 16px patches, 224px input (the paper\'s model)', { imageSize: 224, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12 }),
  /** ViT-B/16 at 384 (86,859,496 parameters). */
  vit_base_patch16_384: vit('ViT-Base, 16px patches, 384px input', { imageSize: 384, patchSize: 16, embedDim: 768, depth: 12, numHeads: 12 }),
  /** ViT-L/16 at 224: embedDim 1024, 24 blocks, 16 heads (304,326,632 parameters). */
  vit_large_patch16_224: vit('ViT-Large, 16px patches, 224px input', { imageSize: 224, patchSize: 16, embedDim: 1024, depth: 24, numHeads: 16 }),
  /** ViT-L/16 at 384 (304,715,752 parameters). */
  vit_large_patch16_384: vit('ViT-Large, 16px patches, 384px input', { imageSize: 384, patchSize: 16, embedDim: 1024, depth: 24, numHeads: 16 }),

  // Small-image ViTs, 10 classes. 4px patches give a 7x7 (28px) or 8x8 (32px) token grid.
  /**
   * 28x28 grayscale (Fashion-MNIST): embedDim 64, 4 blocks, 4 heads, 205,066 parameters. Small
   * enough to train to useful accuracy in a minute on two CPU cores.
   */
  vit_mini_patch4_28: vit('Mini ViT for 28x28 grayscale, 10 classes (Fashion-MNIST)', {
    imageSize: 28, patchSize: 4, inChannels: 1, numClasses: 10, embedDim: 64, depth: 4, numHeads: 4,
  }),
  /** 32x32 RGB (CIFAR-10): the same mini ViT, 208,074 parameters. */
  vit_mini_patch4_32: vit('Mini ViT for 32x32 RGB, 10 classes (CIFAR-10)', {
    imageSize: 32, patchSize: 4, inChannels: 3, numClasses: 10, embedDim: 64, depth: 4, numHeads: 4,
  }),
  /** 32x32 RGB (CIFAR-10): ViT-Tiny's width and depth on an 8x8 grid, 5,362,762 parameters. */
  vit_tiny_patch4_32: vit('ViT-Tiny for 32x32 RGB, 10 classes (CIFAR-10)', {
    imageSize: 32, patchSize: 4, inChannels: 3, numClasses: 10, embedDim: 192, depth: 12, numHeads: 3,
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
    block: 'basic', layers: [2, 2, 2, 2], inChannels: 1, numClasses: 10, stem: 'small',
  }),
  /** ResNet-18 for 32x32 RGB (CIFAR-10), 11,173,962 parameters. */
  resnet18_small_32: cnn('ResNet-18 with the small stem for 32x32 RGB, 10 classes', 32, {
    block: 'basic', layers: [2, 2, 2, 2], inChannels: 3, numClasses: 10, stem: 'small',
  }),
} as const satisfies Record<string, ModelVariant>;

/** The name of a registered variant. */
export type ModelVariantName = keyof typeof MODEL_VARIANTS;
/** Names of ViT variants, accepted by {@link NoisyViT.create}. */
export type ViTVariantName = { [K in ModelVariantName]: (typeof MODEL_VARIANTS)[K]['family'] extends 'vit' ? K : never }[ModelVariantName];
/** Names of ResNet variants, accepted by {@link NoisyCNN.create}. */
export type CNNVariantName = { [K in ModelVariantName]: (typeof MODEL_VARIANTS)[K]['family'] extends 'cnn' ? K : never }[ModelVariantName];

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

function lookupVariant(name: unknown, family?: 'vit' | 'cnn'): { name: ModelVariantName; variant: ModelVariant } {
  const known = family === undefined ? VARIANT_NAMES : VARIANT_NAMES.filter((n) => MODEL_VARIANTS[n].family === family);
  const valid = expectOneOf(name, 'name', known);
  return { name: valid, variant: MODEL_VARIANTS[valid] };
}

// ---------------------------------------------------------------------------------------------
// Validation: one flat, fully defaulted config for the addon
// ---------------------------------------------------------------------------------------------

function expectFraction(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(name, 'number in [0, 1)', value);
  if (!Number.isFinite(value) || value < 0 || value >= 1) throw rangeError(name, 'number in [0, 1)', value);
  return value;
}

function normalizeViTConfig(config: Record<string, unknown>): NativeViTConfig {
  expectKnownKeys(config, 'config', VIT_KEYS);
  const c = { ...VIT_DEFAULTS, ...config } as Record<string, unknown>;
  const out: NativeViTConfig = {
    imageSize: expectPositiveInteger(c.imageSize, 'imageSize'),
    patchSize: expectPositiveInteger(c.patchSize, 'patchSize'),
    inChannels: expectPositiveInteger(c.inChannels, 'inChannels'),
    numClasses: expectPositiveInteger(c.numClasses, 'numClasses'),
    embedDim: expectPositiveInteger(c.embedDim, 'embedDim'),
    depth: expectPositiveInteger(c.depth, 'depth'),
    numHeads: expectPositiveInteger(c.numHeads, 'numHeads'),
    mlpRatio: expectPositiveNumber(c.mlpRatio, 'mlpRatio'),
    dropout: expectFraction(c.dropout, 'dropout'),
    dropPath: expectFraction(c.dropPath, 'dropPath'),
    initSeed: seedOrRandom(c.initSeed, 'initSeed'),
  };
  if (out.imageSize % out.patchSize !== 0) throw rangeError('imageSize', `multiple of patchSize (${out.patchSize})`, out.imageSize);
  if (out.embedDim % out.numHeads !== 0) throw rangeError('embedDim', `multiple of numHeads (${out.numHeads})`, out.embedDim);
  if (Math.trunc(out.embedDim * out.mlpRatio) < 1) {
    throw rangeError('mlpRatio', `number of at least 1/embedDim (1/${out.embedDim})`, out.mlpRatio);
  }
  return out;
}

function normalizeCNNConfig(config: Record<string, unknown>): NativeCNNConfig {
  expectKnownKeys(config, 'config', CNN_KEYS);
  const c = { ...CNN_DEFAULTS, ...config } as Record<string, unknown>;
  if (!Array.isArray(c.layers)) throw typeError('layers', 'array of 4 positive integers', c.layers);
  if (c.layers.length !== 4) throw rangeError('layers', 'array of 4 positive integers', c.layers);
  const layers = c.layers.map((n, i) => expectPositiveInteger(n, `layers[${i}]`));
  return {
    block: expectOneOf(c.block, 'block', ['basic', 'bottleneck'] as const),
    layers,
    inChannels: expectPositiveInteger(c.inChannels, 'inChannels'),
    numClasses: expectPositiveInteger(c.numClasses, 'numClasses'),
    stem: expectOneOf(c.stem, 'stem', ['imagenet', 'small'] as const),
    initSeed: seedOrRandom(c.initSeed, 'initSeed'),
  };
}

/** Validates a model's `noise` option against its architecture; fills every default. */
function normalizeModelNoise(option: unknown, arch: { family: 'vit'; depth: number } | { family: 'cnn'; layers: readonly number[] }): NativeModelNoise {
  const lastStage = 4;
  const preset = (when: 'train' | 'eval', kind: NoiseKind): Record<string, unknown> => ({ kind, when });
  let config: Record<string, unknown>;
  if (option === undefined || typeof option === 'string') {
    const name = option === undefined ? 'default' : expectOneOf(option, 'noise', MODEL_NOISE_PRESETS);
    config = name === 'official' ? preset('eval', 'optimal') : name === 'none' ? preset('train', 'none') : preset('train', 'optimal');
  } else {
    if (option === null || typeof option !== 'object' || Array.isArray(option)) {
      throw typeError('noise', `one of ${MODEL_NOISE_PRESETS.map((p) => `'${p}'`).join(', ')} or a noise config object`, option);
    }
    config = option as Record<string, unknown>;
  }

  // Model-level keys are validated here; the rest is injectNoise's config.
  const { layer, site, axis, when, ...opConfig } = config;
  const op = normalizeNoiseConfig(opConfig, 'noise', ['layer', 'site', 'when']);
  const out: NativeModelNoise = {
    kind: op.kind,
    strength: op.strength,
    mean: op.mean,
    std: op.std,
    seed: op.seed,
    detach: op.detach,
    axis: axis === undefined ? 'batch' : expectOneOf(axis, 'noise.axis', ['batch', 'spatial'] as const),
    when: when === undefined ? 'train' : expectOneOf(when, 'noise.when', ['train', 'eval', 'always'] as const),
    site: arch.family === 'vit' ? 'attention' : 'block',
    layer: 0,
    stage: lastStage,
    block: 0,
  };
  if (arch.family === 'vit') {
    if (site !== undefined) out.site = expectOneOf(site, 'noise.site', ['attention', 'block'] as const);
    const l = layer === undefined ? -1 : expectInteger(layer, 'noise.layer', -arch.depth, arch.depth - 1);
    out.layer = l < 0 ? l + arch.depth : l;
  } else {
    if (site !== undefined) out.site = expectOneOf(site, 'noise.site', ['block'] as const);
    if (layer !== undefined && (layer === null || typeof layer !== 'object' || Array.isArray(layer))) {
      throw typeError('noise.layer', 'object {stage, block}', layer);
    }
    const l = (layer ?? {}) as Record<string, unknown>;
    expectKnownKeys(l, 'noise.layer', ['stage', 'block']);
    out.stage = l.stage === undefined ? lastStage : expectInteger(l.stage, 'noise.layer.stage', 1, 4);
    const n = arch.layers[out.stage - 1];
    const b = l.block === undefined ? -1 : expectInteger(l.block, 'noise.layer.block', -n, n - 1);
    out.block = b < 0 ? b + n : b;
  }
  return out;
}

function resolvedNoise(n: NativeModelNoise, family: 'vit' | 'cnn'): ResolvedModelNoise {
  return {
    kind: n.kind as NoiseKind,
    strength: n.strength,
    mean: n.mean,
    std: n.std,
    seed: n.seed,
    detach: n.detach,
    site: n.site,
    axis: n.axis,
    when: n.when,
    layer: family === 'vit' ? n.layer : { stage: n.stage, block: n.block },
  };
}

// ---------------------------------------------------------------------------------------------
// The models
// ---------------------------------------------------------------------------------------------

/** Options of {@link NoisyModel.loadWeights}. */
export interface LoadWeightsOptions {
  /**
   * Default true: any missing key, unexpected key or shape mismatch throws one error listing all
   * of them, and no weight changes. false: load the tensors whose name and shape match.
   */
  strict?: boolean;
}

/** What {@link NoisyModel.loadWeights} matched. */
export interface LoadWeightsReport {
  /** Names loaded into the model. */
  loaded: string[];
  /** In the model, not in the file (left as they were). */
  missing: string[];
  /** In the file, not in the model (ignored). */
  unexpected: string[];
  /** In both with different shapes, as 'name (file [..], model [..])' (left as they were). */
  mismatched: string[];
}

const CONSTRUCT = Symbol('NoisyModel.construct');

/**
 * What NoisyViT and NoisyCNN share: asynchronous forward, train/eval, device moves, weights in
 * safetensors, the noise site. Models start in train mode, like PyTorch modules.
 */
export abstract class NoisyModel {
  #native: NativeModel | null;
  #noise: NativeModelNoise;
  /** The registry name the model was created from, or null for a custom config. */
  readonly variant: ModelVariantName | null;
  /** 'vit' (NoisyViT) or 'cnn' (NoisyCNN). */
  abstract readonly family: 'vit' | 'cnn';

  /** @internal Use NoisyViT.create, NoisyCNN.create or createModel. */
  constructor(token: symbol, native: NativeModel, noise: NativeModelNoise, variant: ModelVariantName | null) {
    if (token !== CONSTRUCT) {
      throw new TypeError(`${new.target.name} cannot be constructed directly; use ${new.target.name}.create(config) or createModel(name)`);
    }
    this.#native = native;
    this.#noise = noise;
    this.variant = variant;
  }

  /** @internal The native handle (for the trainer); throws after dispose. */
  get _handle(): NativeModel {
    if (this.#native === null) throw new Error(`${this.constructor.name} has been disposed`);
    return this.#native;
  }

  /** @internal The architecture the noise layer indices refer to. */
  protected abstract _arch(): Parameters<typeof normalizeModelNoise>[1];
  /** @internal Throws a RangeError unless x's shape fits the model. */
  protected abstract _checkShape(shape: number[]): void;

  /**
   * Runs the model on a batch of images, off the JS thread, without recording gradients.
   * In train() mode dropout, stochastic depth and BatchNorm batch statistics apply (and noise when
   * `when` is 'train' or 'always'); in eval() mode noise applies when `when` is 'eval' or 'always'.
   *
   * @param x [batch, inChannels, height, width], floating point (converted to float32), on the model's device.
   * @returns Logits [batch, numClasses], float32.
   * @throws TypeError when x is not a Tensor; RangeError for a wrong shape, dtype or device; Error after dispose.
   * @example
   * const logits = await model.eval().forward(images);
   */
  async forward(x: Tensor): Promise<Tensor> {
    const native = this._handle;
    const handle = handleOf(x, 'x');
    const shape = handle.shape();
    this._checkShape(shape);
    const dtype = handle.dtype();
    if (!['float32', 'float64', 'float16', 'bfloat16'].includes(dtype)) {
      throw new RangeError(`Expected a floating-point tensor for x but received dtype ${dtype}`);
    }
    const device = native.device();
    if (handle.device() !== device) {
      throw new RangeError(`Expected x on the model's device ${device} but received a tensor on ${handle.device()}; move one of them with .to(device)`);
    }
    return Tensor._fromHandle(await native.forward(handle));
  }

  /** Sets train mode (default) or eval mode; returns this. Waits for a forward in flight on this model. */
  train(mode = true): this {
    this._handle.setTraining(expectBoolean(mode, 'mode'));
    return this;
  }

  /** Sets eval mode; returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Whether the model is in train mode. */
  get training(): boolean {
    return this._handle.isTraining();
  }

  /** Moves parameters and buffers to 'cpu', 'cuda' or 'cuda:N' in place; returns this. */
  to(device: Device): this {
    this._handle.to(expectDevice(device));
    return this;
  }

  /** 'cpu' or 'cuda:N'. */
  get device(): string {
    return this._handle.device();
  }

  /** Number of trainable parameters (buffers such as BatchNorm statistics excluded). */
  numParameters(): number {
    return this._handle.numParameters();
  }

  /** Parameter names, as timm (ViT) or torchvision (ResNet) name them. */
  parameterNames(): string[] {
    return this._handle.parameterNames();
  }

  /** Names of everything saveWeights writes: parameters, then buffers (BatchNorm statistics). */
  stateNames(): string[] {
    return this._handle.stateNames();
  }

  /** The noise site with every default filled in. */
  get noise(): ResolvedModelNoise {
    void this._handle;
    return resolvedNoise(this.#noise, this.family);
  }

  /**
   * Replaces the noise site (e.g. to evaluate a model trained without noise under the official
   * protocol); the noise stream restarts at offset 0 of the new seed.
   *
   * @param noise A preset name or a {@link ModelNoiseConfig}.
   * @throws TypeError / RangeError for a bad option, with the option's name.
   */
  setNoise(noise: ModelNoiseOption): this {
    const native = this._handle;
    const n = normalizeModelNoise(noise, this._arch());
    native.setNoise(n);
    native.setNoiseOffset('0');
    this.#noise = n;
    return this;
  }

  /**
   * Writes every parameter and buffer to a safetensors file with timm / torchvision key names
   * (loadable there with `safetensors.torch.load_file` and `load_state_dict`). The file is
   * written to a temporary name and renamed, so a crash never leaves a partial file at `path`.
   *
   * @throws TypeError for a non-string path; Error when the file cannot be written.
   */
  async saveWeights(path: string): Promise<void> {
    const native = this._handle;
    await native.saveWeights(expectNonEmptyString(path, 'path'));
  }

  /**
   * Loads a safetensors file (from this package, timm, or torchvision via `safetensors.torch.save_file(model.state_dict())`).
   * Other dtypes are converted to the model's. BatchNorm's num_batches_tracked may be absent
   * (torchvision's published checkpoints predate it).
   *
   * @param options `strict` (default true): see {@link LoadWeightsOptions}.
   * @returns What matched.
   * @throws Error listing missing keys, unexpected keys and shape mismatches (strict), or
   *   describing a malformed or truncated file; the model is unchanged then.
   * @example
   * await model.loadWeights('vit_tiny.safetensors');
   * const report = await model.loadWeights('imagenet.safetensors', { strict: false }); // e.g. another head
   */
  async loadWeights(path: string, options?: LoadWeightsOptions): Promise<LoadWeightsReport> {
    const native = this._handle;
    const p = expectNonEmptyString(path, 'path');
    const opts = expectOptions(options);
    expectKnownKeys(opts, 'options', ['strict']);
    const strict = opts.strict === undefined ? true : expectBoolean(opts.strict, 'options.strict');
    return native.loadWeights(p, strict);
  }

  /** Frees the native memory now. Idempotent; any other use afterwards throws. */
  dispose(): void {
    if (this.#native !== null) {
      this.#native.dispose();
      this.#native = null;
    }
  }

  /** Whether dispose() has been called. */
  get disposed(): boolean {
    return this.#native === null;
  }
}

function describeShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function splitOptions(
  name: string,
  configOrName: unknown,
  overrides: unknown,
  family: 'vit' | 'cnn',
): { variant: ModelVariantName | null; config: Record<string, unknown> } {
  if (typeof configOrName === 'string') {
    const { name: variantName, variant } = lookupVariant(configOrName, family);
    const o = expectOptions(overrides, 'overrides');
    return { variant: variantName, config: { ...variant.config, ...o } };
  }
  if (overrides !== undefined) throw new TypeError(`${name}.create(config) takes no overrides; pass them in the config`);
  if (configOrName === undefined) return { variant: null, config: {} };
  return { variant: null, config: expectOptions(configOrName, 'config') };
}

/**
 * NoisyViT: timm's VisionTransformer with a NoisyNN noise site.
 *
 * @example
 * const model = NoisyViT.create('vit_mini_patch4_28', { noise: { kind: 'linear', strength: 0.3 } });
 * const logits = await model.eval().forward(images); // [batch, 10]
 */
export class NoisyViT extends NoisyModel {
  readonly family = 'vit' as const;
  /** The architecture, every default filled in. */
  readonly config: ResolvedViTConfig;

  /** @internal */
  constructor(token: symbol, native: NativeModel, noise: NativeModelNoise, variant: ModelVariantName | null, config: NativeViTConfig) {
    super(token, native, noise, variant);
    this.config = Object.freeze({ ...config });
  }

  /**
   * Builds a NoisyViT from a config (any field omitted takes the timm default: ViT-B/16 at 224
   * with 1000 classes) or from a registered ViT variant plus overrides.
   *
   * @throws TypeError for a wrong type; RangeError for a bad value (imageSize not a multiple of
   *   patchSize, embedDim not a multiple of numHeads, an unknown variant, an unknown key, a noise
   *   layer out of range, ...), each naming the option.
   * @example
   * NoisyViT.create({ imageSize: 32, patchSize: 4, embedDim: 192, depth: 12, numHeads: 3, numClasses: 10 });
   * NoisyViT.create('vit_tiny_patch16_224', { numClasses: 10, noise: 'official' });
   */
  static create(config?: ViTConfig): NoisyViT;
  static create(variant: ViTVariantName, overrides?: ViTConfig): NoisyViT;
  static create(configOrName?: ViTConfig | ViTVariantName, overrides?: ViTConfig): NoisyViT {
    const { variant, config } = splitOptions('NoisyViT', configOrName, overrides, 'vit');
    return NoisyViT._build(variant, config);
  }

  /** @internal */
  static _build(variant: ModelVariantName | null, config: Record<string, unknown>): NoisyViT {
    const arch = normalizeViTConfig(config);
    const noise = normalizeModelNoise(config.noise, { family: 'vit', depth: arch.depth });
    return new NoisyViT(CONSTRUCT, binding.createVit(arch, noise), noise, variant, arch);
  }

  protected _arch() {
    return { family: 'vit' as const, depth: this.config.depth };
  }

  protected _checkShape(shape: number[]): void {
    const { inChannels: c, imageSize: s } = this.config;
    if (shape.length !== 4 || shape[0] < 1 || shape[1] !== c || shape[2] !== s || shape[3] !== s) {
      throw new RangeError(`Expected x of shape [batch, ${c}, ${s}, ${s}] but received ${describeShape(shape)}`);
    }
  }
}

/**
 * NoisyCNN: torchvision's ResNet with a NoisyNN noise site at the input of a residual block.
 *
 * @example
 * const model = NoisyCNN.create('resnet18_small_32', { noise: { kind: 'optimal', axis: 'spatial' } });
 * const logits = await model.forward(images); // [batch, 10]
 */
export class NoisyCNN extends NoisyModel {
  readonly family = 'cnn' as const;
  /** The architecture, every default filled in. */
  readonly config: ResolvedCNNConfig;

  /** @internal */
  constructor(token: symbol, native: NativeModel, noise: NativeModelNoise, variant: ModelVariantName | null, config: NativeCNNConfig) {
    super(token, native, noise, variant);
    this.config = Object.freeze({ ...config, layers: Object.freeze([...config.layers]) as unknown as [number, number, number, number] });
  }

  /**
   * Builds a NoisyCNN from a config (any field omitted takes the default: ResNet-18 with the
   * ImageNet stem and 1000 classes) or from a registered ResNet variant plus overrides.
   *
   * @throws TypeError for a wrong type; RangeError for a bad value, an unknown variant or key.
   * @example
   * NoisyCNN.create({ block: 'bottleneck', layers: [3, 4, 6, 3], numClasses: 100 });
   * NoisyCNN.create('resnet50', { noise: { kind: 'linear', strength: 0.4, detach: true } });
   */
  static create(config?: CNNConfig): NoisyCNN;
  static create(variant: CNNVariantName, overrides?: CNNConfig): NoisyCNN;
  static create(configOrName?: CNNConfig | CNNVariantName, overrides?: CNNConfig): NoisyCNN {
    const { variant, config } = splitOptions('NoisyCNN', configOrName, overrides, 'cnn');
    return NoisyCNN._build(variant, config);
  }

  /** @internal */
  static _build(variant: ModelVariantName | null, config: Record<string, unknown>): NoisyCNN {
    const arch = normalizeCNNConfig(config);
    const noise = normalizeModelNoise(config.noise, { family: 'cnn', layers: arch.layers });
    return new NoisyCNN(CONSTRUCT, binding.createResNet(arch, noise), noise, variant, arch);
  }

  protected _arch() {
    return { family: 'cnn' as const, layers: this.config.layers };
  }

  protected _checkShape(shape: number[]): void {
    const c = this.config.inChannels;
    if (shape.length !== 4 || shape[0] < 1 || shape[1] !== c || shape[2] < 1 || shape[3] < 1) {
      throw new RangeError(`Expected x of shape [batch, ${c}, height, width] but received ${describeShape(shape)}`);
    }
  }
}

/** The class a variant name builds: NoisyViT for ViT names, NoisyCNN for ResNet names. */
export type ModelFor<N extends ModelVariantName> = N extends ViTVariantName ? NoisyViT : NoisyCNN;

/**
 * Builds a registered variant by name, optionally overriding any config field.
 *
 * @param name One of {@link listModels}().
 * @param overrides Fields of {@link ViTConfig} or {@link CNNConfig} (by the variant's family), e.g. numClasses or noise.
 * @throws RangeError for an unknown name (the message lists the known ones) or a bad override.
 * @example
 * const model = createModel('vit_mini_patch4_28', { noise: 'official' });
 */
export function createModel<N extends ModelVariantName>(name: N, overrides?: N extends ViTVariantName ? ViTConfig : CNNConfig): ModelFor<N>;
export function createModel(name: ModelVariantName, overrides?: ViTConfig | CNNConfig): NoisyViT | NoisyCNN {
  const { name: variantName, variant } = lookupVariant(name);
  const config = { ...variant.config, ...expectOptions(overrides, 'overrides') };
  return variant.family === 'vit' ? NoisyViT._build(variantName, config) : NoisyCNN._build(variantName, config);
}

/** @internal The native handle of a model argument, with a TypeError naming `name` (for the trainer). */
export function modelHandleOf(value: unknown, name: string): NativeModel {
  if (!(value instanceof NoisyModel)) throw typeError(name, 'NoisyViT or NoisyCNN', value);
  return value._handle;
}

/** @internal Test support: the flat native noise config a model would use for `option`. */
export function _normalizeModelNoise(option: unknown, arch: Parameters<typeof normalizeModelNoise>[1]): NativeModelNoise {
  return normalizeModelNoise(option, arch);
}
