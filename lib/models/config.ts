// NoisyViT and NoisyCNN architectures: their config options, and the validation that turns a
// config into the flat, fully defaulted one the addon builds.
import type { NativeCNNConfig, NativeViTConfig } from '../binding';
import { CNN_DEFAULTS, VIT_DEFAULTS } from '../defaults';
import { seedOrRandom } from '../seeds';
import {
  expectKnownKeys,
  expectOneOf,
  expectPositiveInteger,
  expectPositiveNumber,
  rangeError,
  typeError,
} from '../validate';
import type { ModelNoiseOption } from './noise-site';
import { expectModelFits, resnetParameterCount, vitParameterCount } from './size';

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

/** A ViT's architecture: its config without the seed and the noise site. */
export type ViTArchitecture = Omit<ViTConfig, 'noise' | 'initSeed'>;
/** A ResNet's architecture: its config without the seed and the noise site. */
export type CNNArchitecture = Omit<CNNConfig, 'noise' | 'initSeed'>;

/** A NoisyViT's architecture with every default filled in (what `model.config` returns). */
export interface ResolvedViTConfig extends Readonly<Required<ViTArchitecture>> {
  /** Decimal string of the 64-bit weight-initialisation seed. */
  readonly initSeed: string;
}

/** A NoisyCNN's architecture with every default filled in (what `model.config` returns). */
export interface ResolvedCNNConfig extends Readonly<Required<CNNArchitecture>> {
  /** Decimal string of the 64-bit weight-initialisation seed. */
  readonly initSeed: string;
}

const VIT_KEYS = [...Object.keys(VIT_DEFAULTS), 'initSeed', 'noise'];
const CNN_KEYS = [...Object.keys(CNN_DEFAULTS), 'initSeed', 'noise'];

function expectFraction(value: unknown, name: string): number {
  if (typeof value !== 'number') throw typeError(name, 'number in [0, 1)', value);
  if (!Number.isFinite(value) || value < 0 || value >= 1) throw rangeError(name, 'number in [0, 1)', value);
  return value;
}

/** Validates a ViT config (a variant's fields merged with overrides) and fills every default. */
export function normalizeViTConfig(config: Record<string, unknown>): NativeViTConfig {
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
  if (out.imageSize % out.patchSize !== 0)
    throw rangeError('imageSize', `multiple of patchSize (${out.patchSize})`, out.imageSize);
  if (out.embedDim % out.numHeads !== 0)
    throw rangeError('embedDim', `multiple of numHeads (${out.numHeads})`, out.embedDim);
  if (Math.trunc(out.embedDim * out.mlpRatio) < 1) {
    throw rangeError('mlpRatio', `number of at least 1/embedDim (1/${out.embedDim})`, out.mlpRatio);
  }
  expectModelFits('NoisyViT', vitParameterCount(out), 'depth, embedDim, mlpRatio, imageSize / patchSize or numClasses');
  return out;
}

/** Validates a ResNet config and fills every default. */
export function normalizeCNNConfig(config: Record<string, unknown>): NativeCNNConfig {
  expectKnownKeys(config, 'config', CNN_KEYS);
  const c = { ...CNN_DEFAULTS, ...config } as Record<string, unknown>;
  if (!Array.isArray(c.layers)) throw typeError('layers', 'array of 4 positive integers', c.layers);
  if (c.layers.length !== 4) throw rangeError('layers', 'array of 4 positive integers', c.layers);
  const layers = c.layers.map((n, i) => expectPositiveInteger(n, `layers[${i}]`));
  const out: NativeCNNConfig = {
    block: expectOneOf(c.block, 'block', ['basic', 'bottleneck'] as const),
    layers,
    inChannels: expectPositiveInteger(c.inChannels, 'inChannels'),
    numClasses: expectPositiveInteger(c.numClasses, 'numClasses'),
    stem: expectOneOf(c.stem, 'stem', ['imagenet', 'small'] as const),
    initSeed: seedOrRandom(c.initSeed, 'initSeed'),
  };
  expectModelFits('NoisyCNN', resnetParameterCount(out), 'layers or numClasses');
  return out;
}
