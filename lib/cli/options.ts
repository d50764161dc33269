// Options shared by several commands (data, model, noise, training, runtime) and their
// translation into the library's objects.
import * as fs from 'fs';
import * as path from 'path';
import {
  CIFAR10,
  CIFAR100,
  Dataset,
  FashionMNIST,
  FASHION_MNIST_ROOT,
  ImageFolder,
  MNIST,
  normalizationFor,
  Split,
} from '../datasets';
import {
  defaultWarmupSteps,
  OFFICIAL_PROTOCOLS,
  OPTIMIZER_DEFAULTS,
  TRAINING_JOB_LR,
  VIT_DEFAULTS,
  WARMUP_RULE,
} from '../defaults';
import { cudaUnavailableReason, info } from '../info';
import {
  checkModelFitsData,
  defaultModelFor,
  listModels,
  MODEL_VARIANTS,
  ModelNoiseOption,
  ModelVariantName,
  presetNoiseConfig,
  variantInputs,
  variantNoiseSite,
} from '../models';
import { DEFAULT_STRENGTH, NOISE_KINDS, NoiseKind } from '../noise';
import { Device } from '../tensor';
import { TrainerOptions } from '../trainer';
import { Transform, transforms } from '../transforms';
import { invalidValue, OptionSpec, UsageError } from './args';

export const DATASETS = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagefolder'] as const;
export type DatasetName = (typeof DATASETS)[number];

/** A device, or 'auto': CUDA when this build and machine have it, else the CPU. */
function parseDevice(text: string, flag: string): string {
  if (!/^(auto|cpu|cuda(:\d+)?)$/.test(text)) throw invalidValue("'auto', 'cpu', 'cuda' or 'cuda:N'", flag, text);
  return text;
}

/** 'linear=0.4,saltPepper=0.2' -> { linear: 0.4, saltPepper: 0.2 }. */
export function parseStrengths(text: string, flag: string): Partial<Record<NoiseKind, number>> {
  const out: Partial<Record<NoiseKind, number>> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z]+)\s*=\s*([-+0-9.eE]+)\s*$/.exec(part);
    const kind = m?.[1] as NoiseKind | undefined;
    const value = m ? Number(m[2]) : NaN;
    if (
      !m ||
      !kind ||
      !NOISE_KINDS.includes(kind) ||
      !Number.isFinite(value) ||
      value < 0 ||
      (kind === 'saltPepper' && value > 1)
    ) {
      throw invalidValue(
        `KIND=VALUE pairs (KIND one of ${NOISE_KINDS.join(', ')}; VALUE >= 0, at most 1 for saltPepper)`,
        flag,
        text,
      );
    }
    out[kind] = value;
  }
  return out;
}

/** '-1' -> -1 (a ViT block); '4:-1' -> {stage: 4, block: -1} (a ResNet block). */
export function parseLayer(text: string, flag: string): number | { stage: number; block: number } {
  const m = /^(-?\d+)(?::(-?\d+))?$/.exec(text.trim());
  if (!m) throw invalidValue('a block index N or STAGE:BLOCK', flag, text);
  return m[2] === undefined ? Number(m[1]) : { stage: Number(m[1]), block: Number(m[2]) };
}

/** '3' -> three seeds from --seed; '1,5,9' -> those seeds. */
export function parseSeeds(text: string, flag: string): { count: number } | { list: number[] } {
  if (/^\d+$/.test(text)) {
    const count = Number(text);
    if (count < 1 || count > 1000)
      throw invalidValue('a seed count between 1 and 1000, or a comma-separated list of seeds', flag, text);
    return { count };
  }
  const items = text.split(',').map((s) => s.trim());
  if (
    items.length < 2 ||
    items.some((s) => !/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)) || Number(s) >= 2 ** 32)
  ) {
    throw invalidValue('a seed count, or a comma-separated list of non-negative integer seeds', flag, text);
  }
  const list = items.map(Number);
  if (new Set(list).size !== list.length) throw invalidValue('seeds without repeats', flag, text);
  return { list };
}

/** A number as help texts write it: 2e-3, 5e-4, 0.05, 0.1. */
function formatNumber(x: number): string {
  return x !== 0 && Math.abs(x) < 0.01 ? x.toExponential() : String(x);
}

/** '2e-3 (adamw), 0.1 (sgd)' */
function perOptimizer(values: { adamw: number; sgd: number }): string {
  return `${formatNumber(values.adamw)} (adamw), ${formatNumber(values.sgd)} (sgd)`;
}

export const DATA_OPTIONS: OptionSpec[] = [
  { name: 'dataset', type: 'choice', choices: DATASETS, default: 'fashion-mnist', description: 'The dataset.' },
  {
    name: 'root',
    type: 'string',
    valueName: 'DIR',
    defaultText: `${FASHION_MNIST_ROOT} for fashion-mnist`,
    description:
      'Folder of the dataset files (required except for fashion-mnist). For imagefolder: a folder with train/ and val/ (or test/) class subfolders.',
  },
  {
    name: 'image-size',
    type: 'positiveInteger',
    valueName: 'N',
    defaultText: "the model's",
    description: 'imagefolder only: resize images to N x N.',
  },
];

export const MODEL_OPTION: OptionSpec = {
  name: 'model',
  type: 'choice',
  choices: listModels(),
  valueName: 'NAME',
  defaultText: 'vit_mini_patch4_28 (vit_mini_patch4_32 for CIFAR)',
  description: 'A registered model variant (see noisynn models).',
};

export const NOISE_OPTIONS: OptionSpec[] = [
  {
    name: 'noise',
    type: 'choice',
    choices: [...NOISE_KINDS, 'default', 'official'],
    valueName: 'KIND',
    description:
      "A noise kind (none, linear, optimal, gaussian, saltPepper) or preset: 'default' (optimal noise while training only) or 'official' " +
      `(the paper's code; ViT: ${OFFICIAL_PROTOCOLS.vit.summary}; CNN: ${OFFICIAL_PROTOCOLS.cnn.summary}, none for a ResNet-18, whose layer4 has 2 blocks). ` +
      "Linear noise at the ViT attention site is this package's: the official ViT code has none there.",
  },
  {
    name: 'noise-strength',
    type: 'nonNegativeNumber',
    valueName: 'X',
    description: `a for linear (${DEFAULT_STRENGTH.linear}), s for gaussian (${DEFAULT_STRENGTH.gaussian}, mean 0, std 1), p for saltPepper (${DEFAULT_STRENGTH.saltPepper}).`,
  },
  {
    name: 'noise-when',
    type: 'choice',
    choices: ['train', 'eval', 'always'],
    description: 'When noise applies (default: train; the official preset: eval for a ViT, always for a CNN).',
  },
  {
    name: 'noise-axis',
    type: 'choice',
    choices: ['batch', 'spatial'],
    description: 'Mixing axis (default: batch, as the official code).',
  },
  {
    name: 'noise-site',
    type: 'choice',
    choices: ['attention', 'block'],
    description: 'ViT: inside attention (default, official) or the block input.',
  },
  {
    name: 'noise-layer',
    type: 'string',
    parse: parseLayer,
    valueName: 'L',
    description:
      'ViT: a block index N, negative from the end (default -1). CNN: STAGE:BLOCK, e.g. 4:-1 (the default), or BLOCK of stage 4.',
  },
  { name: 'noise-detach', type: 'boolean', description: 'The noise term carries no gradient (the official CNN code).' },
];

export const TRAINING_OPTIONS: OptionSpec[] = [
  { name: 'epochs', type: 'positiveInteger', valueName: 'N', default: 5, description: 'Training epochs.' },
  { name: 'batch-size', type: 'positiveInteger', valueName: 'N', default: 64, description: 'Training batch size.' },
  {
    name: 'optimizer',
    type: 'choice',
    choices: ['adamw', 'sgd'],
    default: 'adamw',
    description: 'Optimizer (no weight decay on norms and biases).',
  },
  {
    name: 'lr',
    type: 'positiveNumber',
    valueName: 'X',
    defaultText: perOptimizer(TRAINING_JOB_LR),
    description: 'Peak learning rate.',
  },
  {
    name: 'weight-decay',
    type: 'nonNegativeNumber',
    valueName: 'X',
    defaultText: perOptimizer({ adamw: OPTIMIZER_DEFAULTS.adamw.weightDecay, sgd: OPTIMIZER_DEFAULTS.sgd.weightDecay }),
    description: 'Weight decay.',
  },
  { name: 'momentum', type: 'fraction', valueName: 'X', defaultText: '0.9', description: 'SGD momentum.' },
  {
    name: 'schedule',
    type: 'choice',
    choices: ['cosine', 'step', 'constant'],
    default: 'cosine',
    description: 'Learning-rate schedule, stepped per step.',
  },
  {
    name: 'warmup-steps',
    type: 'nonNegativeInteger',
    valueName: 'N',
    defaultText: WARMUP_RULE,
    description: 'Linear warmup steps.',
  },
  { name: 'label-smoothing', type: 'fraction', valueName: 'X', default: 0, description: 'Label smoothing.' },
  {
    name: 'clip-grad-norm',
    type: 'nonNegativeNumber',
    valueName: 'X',
    default: 0,
    description: 'Clip the gradient norm (0: off).',
  },
  { name: 'mixed-precision', type: 'boolean', description: 'bf16 autocast (CUDA only).' },
  { name: 'augment', type: 'boolean', description: 'Random crop (padding 4) and horizontal flip while training.' },
  {
    name: 'train-samples',
    type: 'nonNegativeInteger',
    valueName: 'N',
    default: 0,
    description: 'Train on a random subset of N images (0: all).',
  },
];

export const RUNTIME_OPTIONS: OptionSpec[] = [
  {
    name: 'device',
    type: 'string',
    parse: parseDevice,
    default: 'auto',
    valueName: 'DEV',
    description: "'auto', 'cpu', 'cuda' or 'cuda:N'.",
  },
  {
    name: 'workers',
    type: 'nonNegativeInteger',
    valueName: 'N',
    default: 1,
    description: 'Native data-loader threads.',
  },
  { name: 'quiet', short: 'q', type: 'boolean', description: 'No progress output (results and errors only).' },
];

// ---------------------------------------------------------------------------------------------
// From parsed options to library objects
// ---------------------------------------------------------------------------------------------

/** 'auto' -> 'cuda' when available, else 'cpu'. */
export function resolveDevice(text: string): Device {
  if (text === 'auto') return info().cuda ? 'cuda' : 'cpu';
  if (text !== 'cpu' && !info().cuda) {
    throw new UsageError(`--device ${text} requested but ${cudaUnavailableReason()}`);
  }
  return text as Device;
}

function firstExisting(root: string, names: string[]): string | null {
  for (const n of names) {
    const p = path.join(root, n);
    if (fs.existsSync(p) && fs.statSync(p).isDirectory()) return p;
  }
  return null;
}

/** Opens a dataset split by its CLI name. */
export function openDataset(
  options: { dataset: DatasetName; root?: string; imageSize?: number },
  split: Split,
  model?: ModelVariantName,
): Dataset {
  const { dataset, root } = options;
  const needRoot = (): string => {
    if (root === undefined) throw new UsageError(`--root is required for --dataset ${dataset}`);
    return root;
  };
  switch (dataset) {
    case 'fashion-mnist':
      return new FashionMNIST({ split, root: root ?? FASHION_MNIST_ROOT });
    case 'mnist':
      return new MNIST({ split, root: needRoot() });
    case 'cifar10':
      return new CIFAR10({ split, root: needRoot() });
    case 'cifar100':
      return new CIFAR100({ split, root: needRoot() });
    case 'imagefolder': {
      const base = needRoot();
      const dir =
        split === 'train' ? firstExisting(base, ['train']) : firstExisting(base, ['val', 'test', 'validation']);
      if (dir === null) {
        throw new UsageError(
          `--dataset imagefolder expects ${base} to hold ${split === 'train' ? 'a train/ folder' : 'a val/ or test/ folder'} of class subfolders`,
        );
      }
      // Without a model, ImageNet-sized RGB images (the ViT defaults).
      const input = model ? variantInputs(MODEL_VARIANTS[model]) : VIT_DEFAULTS;
      return new ImageFolder({
        root: dir,
        imageSize: options.imageSize ?? input.imageSize,
        channels: input.inChannels as 1 | 3,
      });
    }
  }
}

/** The model for a dataset: --model if given (checked against the images), else the default for its shape. */
export function chooseModel(
  given: ModelVariantName | undefined,
  dataset: Dataset,
  family: 'vit' | 'cnn' = 'vit',
): ModelVariantName {
  if (given !== undefined) {
    checkModelFitsData(given, dataset.imageShape);
    return given;
  }
  const found = defaultModelFor(family, dataset.imageShape);
  if (found === null) {
    throw new UsageError(
      `No default ${family} model for images of shape [${dataset.imageShape.join(', ')}]; pass --model (see noisynn models)`,
    );
  }
  return found;
}

/** imagefolder needs the model before the data (its image size); other datasets do not. */
export function modelForImageFolder(
  given: ModelVariantName | undefined,
  family: 'vit' | 'cnn' = 'vit',
): ModelVariantName | undefined {
  return given ?? (family === 'vit' ? 'vit_tiny_patch16_224' : 'resnet18');
}

/** The transforms of a dataset: normalization by its preset, with augmentation for training. */
export function datasetTransforms(dataset: Dataset, augment: boolean): Transform[] {
  const out: Transform[] = [];
  if (augment) {
    const [, h, w] = dataset.imageShape;
    out.push(transforms.randomCrop([h, w], { padding: 4 }), transforms.horizontalFlip());
  }
  const preset = normalizationFor(dataset);
  if (preset) out.push(transforms.normalize(preset));
  return out;
}

/**
 * The model's noise from --noise and the --noise-* flags: a preset name alone passes through; a
 * kind, or a preset with flags, becomes a config (the preset's own config on this model's
 * architecture, see presetNoiseConfig, under the flags).
 */
export function noiseFromOptions(
  o: Record<string, unknown>,
  fallback: 'default' | 'official' | 'none',
  model: ModelVariantName,
): ModelNoiseOption {
  const name = (o.noise as string | undefined) ?? fallback;
  const variant = MODEL_VARIANTS[model];
  const family = variant.family;
  const flags: Record<string, unknown> = {};
  if (o.noiseStrength !== undefined) flags.strength = o.noiseStrength;
  if (o.noiseWhen !== undefined) flags.when = o.noiseWhen;
  if (o.noiseAxis !== undefined) flags.axis = o.noiseAxis;
  if (o.noiseSite !== undefined) flags.site = o.noiseSite;
  if (o.noiseLayer !== undefined) {
    const layer = o.noiseLayer as number | { stage: number; block: number };
    if (family === 'vit' && typeof layer === 'object')
      throw new UsageError(`--noise-layer for a ViT is a block index, not STAGE:BLOCK`);
    flags.layer = family === 'cnn' && typeof layer === 'number' ? { block: layer } : layer;
  }
  if (o.noiseDetach !== undefined) flags.detach = o.noiseDetach;
  const refined = Object.keys(flags).length > 0;
  if (o.seed !== undefined) flags.seed = o.seed;
  if (name === 'none') {
    if (refined) throw new UsageError('--noise none takes no other --noise-* option');
    return 'none';
  }
  if (name === 'default' || name === 'official') {
    const preset = presetNoiseConfig(name, variantNoiseSite(variant));
    if (preset.note !== undefined) {
      if (refined)
        throw new UsageError(`--noise ${name} on ${model}: ${preset.note}; it takes no other --noise-* option`);
      return name;
    }
    return Object.keys(flags).length > 0 ? ({ ...preset.config, ...flags } as ModelNoiseOption) : name;
  }
  return { kind: name as NoiseKind, when: 'train', ...flags } as ModelNoiseOption;
}

/** Trainer options from the training flags. */
export function trainerOptions(o: Record<string, unknown>, stepsTotal: number): TrainerOptions {
  const name = o.optimizer as 'adamw' | 'sgd';
  return {
    optimizer: {
      name,
      lr: (o.lr as number | undefined) ?? TRAINING_JOB_LR[name],
      // Omitted options take the Trainer's defaults.
      ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay as number } : {}),
      ...(o.momentum !== undefined ? { momentum: o.momentum as number } : {}),
    },
    schedule: {
      name: o.schedule as 'cosine' | 'step' | 'constant',
      warmupSteps: (o.warmupSteps as number | undefined) ?? defaultWarmupSteps(stepsTotal),
    },
    labelSmoothing: o.labelSmoothing as number,
    clipGradNorm: o.clipGradNorm as number,
    mixedPrecision: o.mixedPrecision === true,
    seed: o.seed as number,
  };
}
