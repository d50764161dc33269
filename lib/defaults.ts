// The defaults that more than one part of the package uses (models, trainer, comparison, CLI),
// each defined once here and named for what it is for.
import type { CNNArchitecture, ViTArchitecture } from './models/config';

/**
 * A NoisyViT's architecture when a field is omitted: timm's ViT-B/16 at 224 with an ImageNet-1k
 * head (the paper's model).
 */
export const VIT_DEFAULTS: Readonly<Required<ViTArchitecture>> = Object.freeze({
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
});

/**
 * A NoisyCNN's architecture when a field is omitted: torchvision's ResNet-18 with its ImageNet
 * stem and an ImageNet-1k head.
 */
export const CNN_DEFAULTS: Readonly<Required<CNNArchitecture>> = Object.freeze({
  block: 'basic',
  layers: Object.freeze([2, 2, 2, 2] as const),
  inChannels: 3,
  numClasses: 1000,
  stem: 'imagenet',
});

/**
 * The Trainer's optimizer settings when omitted, per optimizer: the usual starting points for a
 * ViT with AdamW (timm's weight decay) and for a ResNet with SGD (torchvision's recipe).
 */
export const OPTIMIZER_DEFAULTS = Object.freeze({
  adamw: Object.freeze({ lr: 1e-3, weightDecay: 0.05 }),
  sgd: Object.freeze({ lr: 0.1, weightDecay: 5e-4 }),
});

/**
 * The peak learning rate of the package's own training jobs (`noisynn train`, `noisynn compare`
 * and runComparison). Their models are small and trained from scratch in a few hundred steps, so
 * AdamW takes twice the Trainer's general default, with a short warmup ({@link defaultWarmupSteps}).
 * SGD keeps the Trainer's rate.
 */
export const TRAINING_JOB_LR = Object.freeze({ adamw: 2e-3, sgd: OPTIMIZER_DEFAULTS.sgd.lr });

/** The warmup rule of the training jobs, as their help texts state it. */
export const WARMUP_RULE = '5% of the steps, at most 200';

/**
 * Linear warmup steps of a training job of `totalSteps` optimizer steps when none is given:
 * 5% of the steps, at most 200 (long enough to keep AdamW's first updates small, short enough
 * not to waste a short run).
 */
export function defaultWarmupSteps(totalSteps: number): number {
  return Math.min(200, Math.round(0.05 * totalSteps));
}

/**
 * How the paper's official code trained and evaluated with noise, per model family (read from
 * Shawey94/NoisyNN at 719ccf6; see DESIGN.md). The one source of the official protocol's settings:
 * the models' 'official' noise preset, `noisynn eval --noise official`, the leakage audit's
 * default batch size and `noisynn compare` all take them from here.
 */
export interface OfficialProtocol {
  /** When the official code applies the noise. */
  noiseWhen: 'eval' | 'always';
  /** Whether the noise term is detached from the gradient (only the identity path trains). */
  detach: boolean;
  /** The order of the official test loader: SequentialSampler over class folders, i.e. class-sorted. */
  evalOrder: 'classSorted';
  /** The official test batch size. */
  evalBatchSize: number;
  /** One line on what the protocol is, for notes and help texts. */
  summary: string;
}

export const OFFICIAL_PROTOCOLS: Readonly<Record<'vit' | 'cnn', Readonly<OfficialProtocol>>> = Object.freeze({
  // NoisyViT-OptimalQ: the headline runs (runScript.txt: --tra 0 --inf 1 --OptimalQ 1) fine-tune
  // without noise and add optimal noise at evaluation only; te_batch_size defaults to 10 and the
  // script never overrides it (50 validation images per class: every batch holds one class).
  vit: Object.freeze({
    noiseWhen: 'eval' as const,
    detach: false,
    evalOrder: 'classSorted' as const,
    evalBatchSize: 10,
    summary: 'optimal noise along the batch at evaluation only, class-sorted test batches of 10',
  }),
  // NoisyCNN_CircularShiftQ: linear noise (a = 0.4, script.txt), detached, in training and
  // evaluation alike (no gate), test batches of 512 read in class order.
  cnn: Object.freeze({
    noiseWhen: 'always' as const,
    detach: true,
    evalOrder: 'classSorted' as const,
    evalBatchSize: 512,
    summary:
      'linear noise (a = 0.4, detached) along the batch at the input of block 2 of layer4, in training and evaluation, class-sorted test batches of 512',
  }),
});
