// A model's noise site: where, when and how NoisyViT and NoisyCNN inject NoisyNN noise; the
// named presets; and the validation against the architecture the layer indices refer to.
import type { NativeModelNoise } from '../binding';
import { normalizeNoiseConfig, NoiseKind } from '../noise';
import { expectInteger, expectKnownKeys, expectOneOf, typeError } from '../validate';

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
  /**
   * Data-parallel training (a Trainer with `distributed`): 'global' (default) mixes over the
   * global batch of all ranks, exactly as one process holding that batch would (optimal, linear
   * and saltPepper through collectives; gaussian and the saltPepper mask drawn by global sample),
   * so results do not depend on the number of ranks. 'local' mixes each rank's own batch (no
   * communication, but the noise then changes with the world size). Without a group both are the
   * batch itself. See docs/distributed.md for the cost.
   */
  scope?: 'local' | 'global';
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
  scope: 'local' | 'global';
  /** ViT: the block index (non-negative). CNN: stage 1..4 and block index (non-negative). */
  layer: number | { stage: number; block: number };
}

/** What a noise site's layer indices refer to: a ViT's depth, or a ResNet's blocks per stage. */
export type NoiseSiteArchitecture = { family: 'vit'; depth: number } | { family: 'cnn'; layers: readonly number[] };

/** Validates a model's `noise` option against its architecture; fills every default. */
export function normalizeModelNoise(option: unknown, arch: NoiseSiteArchitecture): NativeModelNoise {
  const lastStage = 4;
  const preset = (when: 'train' | 'eval', kind: NoiseKind): Record<string, unknown> => ({ kind, when });
  let config: Record<string, unknown>;
  if (option === undefined || typeof option === 'string') {
    const name = option === undefined ? 'default' : expectOneOf(option, 'noise', MODEL_NOISE_PRESETS);
    config =
      name === 'official'
        ? preset('eval', 'optimal')
        : name === 'none'
          ? preset('train', 'none')
          : preset('train', 'optimal');
  } else {
    if (option === null || typeof option !== 'object' || Array.isArray(option)) {
      throw typeError(
        'noise',
        `one of ${MODEL_NOISE_PRESETS.map((p) => `'${p}'`).join(', ')} or a noise config object`,
        option,
      );
    }
    config = option as Record<string, unknown>;
  }

  // Model-level keys are validated here; the rest is injectNoise's config.
  const { layer, site, axis, when, scope, ...opConfig } = config;
  const op = normalizeNoiseConfig(opConfig, 'noise', ['layer', 'site', 'when', 'scope']);
  const out: NativeModelNoise = {
    kind: op.kind,
    strength: op.strength,
    mean: op.mean,
    std: op.std,
    seed: op.seed,
    detach: op.detach,
    axis: axis === undefined ? 'batch' : expectOneOf(axis, 'noise.axis', ['batch', 'spatial'] as const),
    when: when === undefined ? 'train' : expectOneOf(when, 'noise.when', ['train', 'eval', 'always'] as const),
    scope: scope === undefined ? 'global' : expectOneOf(scope, 'noise.scope', ['local', 'global'] as const),
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

/** The public view of a native noise config: the layer as the model's family names it. */
export function resolvedNoise(n: NativeModelNoise, family: 'vit' | 'cnn'): ResolvedModelNoise {
  return {
    kind: n.kind,
    strength: n.strength,
    mean: n.mean,
    std: n.std,
    seed: n.seed,
    detach: n.detach,
    site: n.site,
    axis: n.axis,
    when: n.when,
    scope: n.scope,
    layer: family === 'vit' ? n.layer : { stage: n.stage, block: n.block },
  };
}
