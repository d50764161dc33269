// The experiment every run of a comparison shares: the data and its subsets, the model, the
// official protocol's loaders and noise site, and what results.json records of them.
import { DataLoader } from '../dataloader';
import { Dataset, displayName, FashionMNIST, normalizationFor, randomSubset } from '../datasets';
import { defaultWarmupSteps, OfficialProtocol } from '../defaults';
import { info } from '../info';
import {
  checkModelFitsData,
  createModel,
  defaultModelFor,
  listModels,
  MODEL_VARIANTS,
  ModelVariantName,
  OFFICIAL_CNN_NOISE,
  variantNoiseSite,
} from '../models';
import { NoiseKind } from '../noise';
import { NormalizePreset, Transform, transforms } from '../transforms';
import {
  COMPARISON_MODELS,
  ComparisonConfig,
  comparisonProtocol,
  ComparisonSettings,
  comparisonStrengths,
} from './options';
import type { ComparisonResult } from './summary';

/** The data and model every run of a comparison shares. */
export interface Experiment {
  datasetName: string;
  model: ModelVariantName;
  numClasses: number;
  normalize: NormalizePreset | null;
  /** Normalization only: the comparison trains without augmentation. */
  transforms: Transform[];
  train: Dataset;
  test: Dataset;
  /** The audit's images: `test`, or a subset of it. */
  auditSet: Dataset;
  stepsPerEpoch: number;
  warmupSteps: number;
  parameters: number;
  /** The family's official protocol: when it noises, its test batches. */
  protocol: OfficialProtocol & { family: 'vit' | 'cnn' };
  /** Every kind's strength (defaults filled in). */
  strengths: Partial<Record<NoiseKind, number>>;
  /** The noise site: the official one where the model has it. */
  layer: number | { stage: number; block: number };
  siteNote: string | undefined;
  /**
   * A fresh set of the test loaders, one set per job (a loader makes one pass at a time);
   * setEpoch(0) before each pass gives every model the same batches.
   */
  evalLoaders(): EvalLoaders;
}

/** The test loaders a job scores its runs with. */
export interface EvalLoaders {
  /** Shuffled batches of evalBatchSize, no noise: the leak-free score. */
  leakFreeLoader: DataLoader;
  /** Shuffled batches of the protocol's size: the noise at evaluation without the class-sorted batches. */
  shuffledLoader: DataLoader;
  /** Class-sorted batches of the protocol's size: the official protocol. */
  officialLoader: DataLoader;
  dispose(): void;
}

/** The full datasets: the given ones, else Fashion-MNIST's splits (Debian's package). */
export function chooseData(s: ComparisonSettings): [Dataset, Dataset] {
  const train = s.train ?? new FashionMNIST({ split: 'train' });
  const test = s.test ?? new FashionMNIST({ split: 'test' });
  if (train.imageShape.join('x') !== test.imageShape.join('x')) {
    throw new RangeError(
      `Expected train and test images of the same shape but received [${train.imageShape.join(', ')}] and [${test.imageShape.join(', ')}]`,
    );
  }
  return [train, test];
}

/** The given model (checked against the family and the images), else the family's default for the image shape. */
export function chooseModel(s: ComparisonSettings, train: Dataset): ModelVariantName {
  let model: ModelVariantName;
  if (s.model === undefined) {
    const found =
      COMPARISON_MODELS[s.family]?.[train.imageShape.join('x')] ?? defaultModelFor(s.family, train.imageShape);
    if (found === null) {
      throw new RangeError(
        `No default ${s.family} model for images of shape [${train.imageShape.join(', ')}]; pass model (one of ${listModels().join(', ')})`,
      );
    }
    model = found;
  } else {
    model = s.model;
    if (s.familyGiven && MODEL_VARIANTS[model].family !== s.family) {
      throw new RangeError(`model ${model} is a ${MODEL_VARIANTS[model].family} model but family is '${s.family}'`);
    }
  }
  checkModelFitsData(model, train.imageShape);
  return model;
}

/** Loads the data, draws the subsets, and sizes the runs. */
export async function prepareData(
  s: ComparisonSettings,
  trainFull: Dataset,
  testFull: Dataset,
  model: ModelVariantName,
): Promise<Experiment> {
  const datasetName = s.datasetName ?? displayName(trainFull);
  const numClasses = trainFull.classes.length;
  const normalize = normalizationFor(trainFull);
  const evalTransforms: Transform[] = normalize ? [transforms.normalize(normalize)] : [];

  s.onMessage(`loading ${datasetName}${s.trainSamples ? ` (${s.trainSamples} training images)` : ''}...`);
  // The subsets depend on a fixed seed, not on the run seeds: every run sees the same images.
  const train = await randomSubset(await trainFull.load(), s.trainSamples, 0x5eed);
  const test = await randomSubset(await testFull.load(), s.testSamples, 0x7e57);
  const auditSet = s.audit ? await randomSubset(test, s.auditSamples, 0xa0d1) : test;
  const stepsPerEpoch = Math.ceil(train.length / s.batchSize);
  const warmupSteps = s.warmupSteps ?? defaultWarmupSteps(s.epochs * stepsPerEpoch);

  const probe = createModel(model, { numClasses, noise: 'none', initSeed: 0 });
  const parameters = probe.numParameters();
  probe.dispose();

  const family = MODEL_VARIANTS[model].family;
  const protocol = comparisonProtocol(family);
  const evalLoader = (order: 'shuffle' | 'classSorted', batchSize: number) =>
    new DataLoader(test, {
      batchSize,
      order,
      seed: 0,
      transforms: evalTransforms,
      numWorkers: s.numWorkers,
      device: s.device,
    });
  return {
    datasetName,
    model,
    numClasses,
    normalize,
    transforms: evalTransforms,
    train,
    test,
    auditSet,
    stepsPerEpoch,
    warmupSteps,
    parameters,
    protocol,
    strengths: comparisonStrengths(family, s.strengths),
    ...noiseSite(model),
    evalLoaders: () => {
      const loaders = {
        leakFreeLoader: evalLoader('shuffle', s.evalBatchSize),
        shuffledLoader: evalLoader('shuffle', protocol.evalBatchSize),
        officialLoader: evalLoader(protocol.evalOrder, protocol.evalBatchSize),
      };
      return {
        ...loaders,
        dispose: () => Object.values(loaders).forEach((l) => l.dispose()),
      };
    },
  };
}

/**
 * Where the runs inject noise: the last ViT block (the official site); for a ResNet the official
 * block 2 of layer4, or, when layer4 has no such block (ResNet-18), its last block, with a note.
 */
function noiseSite(model: ModelVariantName): Pick<Experiment, 'layer' | 'siteNote'> {
  const arch = variantNoiseSite(MODEL_VARIANTS[model]);
  if (arch.family === 'vit') return { layer: arch.depth - 1, siteNote: undefined };
  const { stage, block } = OFFICIAL_CNN_NOISE.layer;
  const blocks = arch.layers[stage - 1];
  if (blocks > block) return { layer: { stage, block }, siteNote: undefined };
  return {
    layer: { stage, block: blocks - 1 },
    siteNote:
      `${model}'s layer4 has ${blocks} block${blocks === 1 ? '' : 's'} and no block index ${block}, where the official CNN code noises ` +
      `(it noises none here); these runs noise its last block, block ${blocks - 1} of layer4`,
  };
}

/** What results.json records as the experiment's settings. */
export function comparisonConfig(
  s: ComparisonSettings,
  exp: Experiment,
  jobs: { jobs: number; threadsPerJob: number },
): ComparisonConfig {
  return {
    dataset: exp.datasetName,
    model: exp.model,
    family: MODEL_VARIANTS[exp.model].family,
    parameters: exp.parameters,
    kinds: s.kinds,
    seeds: s.seeds,
    epochs: s.epochs,
    trainSamples: exp.train.length,
    testSamples: exp.test.length,
    batchSize: s.batchSize,
    evalBatchSize: s.evalBatchSize,
    optimizer: { name: 'adamw', lr: s.lr, weightDecay: s.weightDecay },
    schedule: { name: 'cosine', warmupSteps: exp.warmupSteps },
    labelSmoothing: s.labelSmoothing,
    noise: {
      axis: s.axis,
      strengths: exp.strengths,
      trainWhen: 'train',
      officialWhen: exp.protocol.noiseWhen,
      detach: exp.protocol.detach,
      layer: exp.layer,
      ...(exp.siteNote ? { siteNote: exp.siteNote } : {}),
    },
    protocol: exp.protocol,
    normalize: exp.normalize,
    audit: s.audit,
    auditSamples: exp.auditSet.length,
    device: s.device,
    numWorkers: s.numWorkers,
    ...jobs,
  };
}

export function environment(): ComparisonResult['environment'] {
  const nfo = info();
  return {
    version: nfo.version,
    libtorch: nfo.libtorchVersion,
    blas: nfo.blas,
    threads: nfo.threads,
    node: process.version,
  };
}
