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
