// A model's noise site: where, when and how NoisyViT and NoisyCNN inject NoisyNN noise; the
// named presets; and the validation against the architecture the layer indices refer to.
import type { NativeModelNoise } from '../binding';
import { OFFICIAL_PROTOCOLS } from '../defaults';
import { normalizeNoiseConfig, NoiseKind } from '../noise';
import { expectInteger, expectKnownKeys, expectOneOf, typeError } from '../validate';

/**
 * Where, when and how a model injects NoisyNN noise: the {@link injectNoise} knobs (without the
 * numeric axis) plus the site. Every field but `kind` is optional.
 */
export interface ModelNoiseConfig {
  /**
   * 'linear' | 'optimal' | 'gaussian' | 'saltPepper' | 'none' (see NoiseConfig). The official ViT
   * code has optimal, gaussian and impulse (saltPepper) noise at its site; linear noise there is
   * this package's addition (the official code's linear noise is the CNN's).
   */
  kind: NoiseKind;
  /** a for linear (default 0.3), s for gaussian (default 0.1), p for saltPepper (default 0.1); see DEFAULT_STRENGTH. */
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
 * - 'official': the paper's official code, which differs by family (see {@link OFFICIAL_PROTOCOLS}):
 *   - NoisyViT: optimal noise along the batch at the last block's attention input, at evaluation
 *     only: the headline protocol, whose accuracy leaks labels through class-sorted test batches
 *     (README, "The method, briefly"; `auditLeakage()` detects it).
 *   - NoisyCNN: linear noise (a = 0.4) along the batch, the noise term detached, in training and
 *     evaluation (`when: 'always'`), at the input of block index 2 of layer4: the last block of
 *     ResNet-34/50/101/152. A ResNet whose layer4 has fewer than 3 blocks (ResNet-18 and its
 *     small-image variants) has no such block, and the official code then noises none: the preset
 *     is noise-free there, and `model.noise.note` says why.
 * - 'none': no noise; the plain ViT / ResNet, bit for bit.
 */
export type ModelNoisePreset = 'default' | 'official' | 'none';
export const MODEL_NOISE_PRESETS: readonly ModelNoisePreset[] = ['default', 'official', 'none'];

export type ModelNoiseOption = ModelNoisePreset | ModelNoiseConfig;

/**
 * The official NoisyCNN noise (CNNs.py, script.txt): circular-shift linear noise with the script's
 * a = 0.4 along the batch, the noise term detached, at the input of block `sub_noisy_layer - 1`
 * (the script's 3, so block index 2) of layer4.
 */
export const OFFICIAL_CNN_NOISE = Object.freeze({
  kind: 'linear' as const,
  strength: 0.4,
  axis: 'batch' as const,
  detach: OFFICIAL_PROTOCOLS.cnn.detach,
  when: OFFICIAL_PROTOCOLS.cnn.noiseWhen,
  layer: Object.freeze({ stage: 4, block: 2 }),
});

/** The official NoisyViT noise of the headline runs (ViT.py, runScript.txt: --layer 11 of 12, --OptimalQ 1, --inf 1). */
export const OFFICIAL_VIT_NOISE = Object.freeze({
  kind: 'optimal' as const,
  axis: 'batch' as const,
  site: 'attention' as const,
  when: OFFICIAL_PROTOCOLS.vit.noiseWhen,
  layer: -1,
});

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
  /** Why a preset resolved as it did, when that is not obvious (the 'official' preset on a ResNet-18). */
  note?: string;
}

/** What a noise site's layer indices refer to: a ViT's depth, or a ResNet's blocks per stage. */
export type NoiseSiteArchitecture = { family: 'vit'; depth: number } | { family: 'cnn'; layers: readonly number[] };

/** The native noise config plus, for a preset that needs one, the note on how it resolved (the addon ignores it). */
export type SiteNoise = NativeModelNoise & { note?: string };

/**
 * The noise config a preset stands for on an architecture (before defaults), and a note when the
 * preset resolved to something its name does not suggest.
 */
export function presetNoiseConfig(
  preset: ModelNoisePreset,
  arch: NoiseSiteArchitecture,
): { config: ModelNoiseConfig; note?: string } {
  if (preset === 'none') return { config: { kind: 'none' } };
  if (preset === 'default') return { config: { kind: 'optimal', when: 'train' } };
  if (arch.family === 'vit') return { config: { ...OFFICIAL_VIT_NOISE } };
  const blocks = arch.layers[OFFICIAL_CNN_NOISE.layer.stage - 1];
  if (blocks <= OFFICIAL_CNN_NOISE.layer.block) {
    return {
      config: { kind: 'none', when: OFFICIAL_CNN_NOISE.when },
      note:
        `the official CNN code noises block index ${OFFICIAL_CNN_NOISE.layer.block} of layer4, and this ResNet's layer4 has ` +
        `${blocks} block${blocks === 1 ? '' : 's'}: the 'official' preset is noise-free here, as the official code is`,
    };
  }
  return { config: { ...OFFICIAL_CNN_NOISE, layer: { ...OFFICIAL_CNN_NOISE.layer } } };
}

/** Validates a model's `noise` option against its architecture; fills every default. */
export function normalizeModelNoise(option: unknown, arch: NoiseSiteArchitecture): SiteNoise {
  const lastStage = 4;
  let config: Record<string, unknown>;
  let note: string | undefined;
  if (option === undefined || typeof option === 'string') {
    const name = option === undefined ? 'default' : expectOneOf(option, 'noise', MODEL_NOISE_PRESETS);
    const preset = presetNoiseConfig(name, arch);
    config = preset.config as unknown as Record<string, unknown>;
    note = preset.note;
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
  const out: SiteNoise = {
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
  if (note !== undefined) out.note = note;
  return out;
}

/** The public view of a native noise config: the layer as the model's family names it. */
export function resolvedNoise(n: SiteNoise, family: 'vit' | 'cnn'): ResolvedModelNoise {
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
    ...(n.note !== undefined ? { note: n.note } : {}),
  };
}
