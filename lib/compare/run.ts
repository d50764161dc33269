// runComparison: the NoisyNN experiment. Noise kinds x seeds on one model, each trained model
// scored under the leak-free protocol and the paper's official one, plus the leakage audit.
import { promises as fsp } from 'fs';
import * as path from 'path';
import { auditLeakage } from '../audit';
import { DataLoader } from '../dataloader';
import { Dataset, displayName, FashionMNIST, normalizationFor, randomSubset } from '../datasets';
import { defaultWarmupSteps } from '../defaults';
import { info } from '../info';
import {
  checkModelFitsData,
  createModel,
  defaultModelFor,
  listModels,
  MODEL_VARIANTS,
  ModelNoiseConfig,
  ModelVariantName,
  NoisyModel,
} from '../models';
import { NoiseKind } from '../noise';
import { LogWriter, MetricsLog } from '../run-log';
import { EpochEvent, EvalResult, FitResult, StepEvent, Trainer } from '../trainer';
import { NormalizePreset, Transform, transforms } from '../transforms';
import { ComparisonConfig, ComparisonOptions, ComparisonSettings, resolveComparisonOptions, RunInfo } from './options';
import { ComparisonAudit, ComparisonResult, ComparisonRun, OFFICIAL_PRESET_LABEL, summarize } from './table';

/** The data and model every run of a comparison shares. */
interface Experiment {
  datasetName: string;
  model: ModelVariantName;
  numClasses: number;
  normalize: NormalizePreset | null;
  /** Normalization only: the comparison trains without augmentation. */
  transforms: Transform[];
  train: Dataset;
  test: Dataset;
  /** The audit's images: a subset of `test`. */
  auditSet: Dataset;
  stepsPerEpoch: number;
  warmupSteps: number;
  parameters: number;
  /** Test loaders shared by all runs; setEpoch(0) before each pass gives every model the same batches. */
  leakFreeLoader: DataLoader;
  officialLoader: DataLoader;
}

/**
 * Runs the NoisyNN comparison: for every seed and noise kind, trains the same model with that
 * noise while training ('default' preset semantics: `when: 'train'`, the official site and
 * batch axis), then scores it on the test set twice:
 *
 * - leak-free: no noise at evaluation, shuffled test batches (this package's default protocol);
 * - official: the kind's noise at evaluation (`when: 'eval'`, as the 'official' preset) with
 *   class-sorted test batches, the way the paper's code evaluated.
 *
 * Every kind starts from the same initial weights and sees the same batches for a given seed, so
 * the kinds differ only in their noise. With `audit`, each kind's first-seed model is audited
 * ({@link auditLeakage}) with its noise at evaluation.
 *
 * @returns Per-run scores, mean ± std per kind, the audits, the resolved config.
 * @throws TypeError / RangeError for bad options (naming the option); Error when the data is missing.
 * @example
 * const result = await runComparison({ seeds: [1, 2], epochs: 1, trainSamples: 3000 });
 * console.log(formatComparisonTable(result));
 */
export async function runComparison(options?: ComparisonOptions): Promise<ComparisonResult> {
  const started = Date.now();
  const s = resolveComparisonOptions(options);
  const [trainFull, testFull] = chooseData(s);
  const model = chooseModel(s, trainFull);
  const log = s.metricsLog === undefined ? undefined : await MetricsLog.open(s.metricsLog);
  const runs: ComparisonRun[] = [];
  const audits: ComparisonAudit[] = [];
  let aborted = s.signal?.aborted ?? false;
  try {
    const exp = await prepareData(s, trainFull, testFull, model);
    const config = comparisonConfig(s, exp);
    const total = s.kinds.length * s.seeds.length;
    // Seeds outside, kinds inside: an interrupted job still has every kind for the first seeds.
    outer: for (const [si, seed] of s.seeds.entries()) {
      for (const [ki, kind] of s.kinds.entries()) {
        if (aborted) break outer;
        const done = s.resumedRuns.find((r) => r.kind === kind && r.seed === seed);
        const run: RunInfo = {
          kind,
          seed,
          index: si * s.kinds.length + ki,
          total,
          epochs: s.epochs,
          stepsPerEpoch: exp.stepsPerEpoch,
          restored: done !== undefined,
        };
        s.onRunStart?.(run);
        if (done) {
          runs.push(done);
          audits.push(...s.resumedAudits.filter((a) => a.kind === kind && a.seed === seed));
          s.onRunEnd?.(run, done);
          continue;
        }
        const outcome = await trainScoreAudit(s, exp, run, ki, si === 0, log);
        if (outcome === null) {
          aborted = true;
          break outer;
        }
        runs.push(outcome.result);
        audits.push(...outcome.audits);
        s.onRunEnd?.(run, outcome.result);
        aborted = aborted || (s.signal?.aborted ?? false);
      }
    }
    return {
      config,
      runs,
      summary: summarize(runs, s.kinds),
      audits,
      aborted,
      seconds: (Date.now() - started) / 1000,
      environment: environment(),
    };
  } finally {
    await log?.close();
    // The parent folder goes too when every run's folder has.
    if (s.checkpointDir !== undefined && !s.keepCheckpoints) await fsp.rmdir(s.checkpointDir).catch(() => undefined);
  }
}

/** The full datasets: the given ones, else Fashion-MNIST's splits (Debian's package). */
function chooseData(s: ComparisonSettings): [Dataset, Dataset] {
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
function chooseModel(s: ComparisonSettings, train: Dataset): ModelVariantName {
  let model: ModelVariantName;
  if (s.model === undefined) {
    const found = defaultModelFor(s.family, train.imageShape);
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
async function prepareData(
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

  const evalLoader = (order: 'shuffle' | 'classSorted') =>
    new DataLoader(test, {
      batchSize: s.evalBatchSize,
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
    leakFreeLoader: evalLoader('shuffle'),
    officialLoader: evalLoader('classSorted'),
  };
}

/** What results.json records as the experiment's settings. */
function comparisonConfig(s: ComparisonSettings, exp: Experiment): ComparisonConfig {
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
    noise: { axis: s.axis, strengths: s.strengths, trainWhen: 'train', officialWhen: 'eval' },
    normalize: exp.normalize,
    audit: s.audit,
    auditSamples: exp.auditSet.length,
    device: s.device,
    numWorkers: s.numWorkers,
  };
}

function environment(): ComparisonResult['environment'] {
  const nfo = info();
  return {
    version: nfo.version,
    libtorch: nfo.libtorchVersion,
    blas: nfo.blas,
    threads: nfo.threads,
    node: process.version,
  };
}

/**
 * One run: train a fresh model with the run's noise, score it under both protocols, and (first
 * seed only) audit it as the official protocol scored it. Null when aborted while training.
 */
async function trainScoreAudit(
  s: ComparisonSettings,
  exp: Experiment,
  run: RunInfo,
  kindIndex: number,
  firstSeed: boolean,
  log: MetricsLog | undefined,
): Promise<{ result: ComparisonRun; audits: ComparisonAudit[] } | null> {
  const { kind, seed } = run;
  const strength = s.strengths[kind];
  // Each (seed, kind) draws its own noise stream.
  const noise = {
    kind,
    axis: s.axis,
    when: 'train' as const,
    seed: seed * 16 + kindIndex,
    ...(strength === undefined ? {} : { strength }),
  };
  // Same initSeed for every kind: the kinds start from identical weights.
  const net = createModel(exp.model, { numClasses: exp.numClasses, noise, initSeed: seed });
  const runCheckpoints = s.checkpointDir === undefined ? undefined : path.join(s.checkpointDir, `${kind}-seed${seed}`);
  try {
    if (s.device !== 'cpu') net.to(s.device);

    // Train.
    const { trainer, fit, trainSeconds } = await train(s, exp, run, net, runCheckpoints, log?.tagged({ kind, seed }));
    if (fit.aborted) return null;

    // Score: leak-free, then the official protocol (this kind's noise at evaluation time,
    // class-sorted batches), each official score audited right after it, as scored.
    const audited: ComparisonAudit[] = [];
    const auditNow = async (evalKind: NoiseKind, label: string): Promise<void> => {
      if (!s.audit || !firstSeed || s.signal?.aborted) return;
      audited.push({ kind, evalKind, label, seed, ...(await audit(s, exp, net, evalKind, label, seed)) });
    };
    exp.leakFreeLoader.setEpoch(0);
    const leakFree = await trainer.evaluate(exp.leakFreeLoader);
    const official = await scoreOfficial(exp, trainer, net, { ...noise, when: 'eval' });
    await auditNow(kind, kind);
    // The paper's headline: a plainly trained model, optimal noise at evaluation only.
    let officialPreset: EvalResult | undefined;
    if (kind === 'none') {
      officialPreset = await scoreOfficial(exp, trainer, net, {
        kind: 'optimal',
        axis: s.axis,
        when: 'eval',
        seed: seed * 16 + s.kinds.length,
      });
      await auditNow('optimal', OFFICIAL_PRESET_LABEL);
    }

    // Record: the 'run' record comes last, so a run without one is retrained on resume.
    const last = fit.history[fit.history.length - 1];
    const result: ComparisonRun = {
      kind,
      seed,
      epochs: fit.epochs,
      trainSeconds,
      trainLoss: last?.loss ?? NaN,
      trainTop1: last?.top1 ?? NaN,
      leakFree,
      official,
      ...(officialPreset ? { officialPreset } : {}),
      history: fit.history,
    };
    for (const entry of audited) await log?.write({ type: 'audit', ...entry });
    await log?.write({
      type: 'run',
      kind,
      seed,
      epochs: fit.epochs,
      trainSeconds,
      leakFree,
      official,
      ...(officialPreset ? { officialPreset } : {}),
    });
    // A run's checkpoint is deleted only once its results are in the log.
    if (runCheckpoints !== undefined && !s.keepCheckpoints && log !== undefined) {
      await fsp.rm(runCheckpoints, { recursive: true, force: true });
    }
    return { result, audits: audited };
  } finally {
    net.dispose();
  }
}

/** Trains `net` for the run, resuming from the run's checkpoint when there is one. */
async function train(
  s: ComparisonSettings,
  exp: Experiment,
  run: RunInfo,
  net: NoisyModel,
  checkpointDir: string | undefined,
  log: LogWriter | undefined,
): Promise<{ trainer: Trainer; fit: FitResult; trainSeconds: number }> {
  const trainLoader = new DataLoader(exp.train, {
    batchSize: s.batchSize,
    order: 'shuffle',
    seed: run.seed,
    transforms: exp.transforms,
    numWorkers: s.numWorkers,
    device: s.device,
  });
  const trainer = new Trainer(net, {
    optimizer: { name: 'adamw', lr: s.lr, weightDecay: s.weightDecay },
    schedule: { name: 'cosine', warmupSteps: exp.warmupSteps },
    labelSmoothing: s.labelSmoothing,
    seed: run.seed,
  });
  trainer.on('step', (e: StepEvent) => s.onStep?.(run, e));
  trainer.on('epoch', (e: EpochEvent) => s.onEpoch?.(run, e));
  const t0 = Date.now();
  const fit = await trainer._fit(trainLoader, { epochs: s.epochs, signal: s.signal, checkpointDir }, log);
  return { trainer, fit, trainSeconds: (Date.now() - t0) / 1000 };
}

/** The official protocol: `evalNoise` at evaluation time, class-sorted test batches. */
async function scoreOfficial(
  exp: Experiment,
  trainer: Trainer,
  net: NoisyModel,
  evalNoise: ModelNoiseConfig,
): Promise<EvalResult> {
  net.setNoise(evalNoise);
  exp.officialLoader.setEpoch(0);
  return trainer.evaluate(exp.officialLoader);
}

/** The leakage audit of `net` with its current (evaluation-time) noise. */
async function audit(
  s: ComparisonSettings,
  exp: Experiment,
  net: NoisyModel,
  evalKind: NoiseKind,
  label: string,
  seed: number,
) {
  s.onMessage(
    `auditing ${label} (seed ${seed}) with ${evalKind === 'none' ? 'no noise' : `${evalKind} noise`} at evaluation on ${exp.auditSet.length} test images...`,
  );
  return auditLeakage(net, exp.auditSet, {
    batchSize: s.evalBatchSize,
    transforms: exp.transforms,
    seed: 0,
    numWorkers: Math.max(1, s.numWorkers),
  });
}

/**
 * The finished runs and audits recorded in a comparison's metrics log (its JSON lines, parsed),
 * for {@link ComparisonOptions.resume}. A run counts as finished when its 'run' record is there;
 * its history comes from its 'epoch' records.
 */
export function resumeFromLog(records: readonly Record<string, unknown>[]): {
  runs: ComparisonRun[];
  audits: ComparisonAudit[];
} {
  const strip = (r: Record<string, unknown>) => {
    const { type: _type, kind: _kind, seed: _seed, time: _time, ...rest } = r;
    return rest;
  };
  const runs: ComparisonRun[] = [];
  for (const r of records) {
    if (r.type !== 'run') continue;
    const byEpoch = new Map<number, EpochEvent>();
    for (const e of records)
      if (e.type === 'epoch' && e.kind === r.kind && e.seed === r.seed)
        byEpoch.set(e.epoch as number, strip(e) as unknown as EpochEvent);
    const history = [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
    const last = history[history.length - 1];
    runs.push({
      ...(strip(r) as unknown as ComparisonRun),
      kind: r.kind as NoiseKind,
      seed: r.seed as number,
      trainLoss: last?.loss ?? NaN,
      trainTop1: last?.top1 ?? NaN,
      history,
    });
  }
  const audits = records
    .filter((r) => r.type === 'audit')
    .map((r) => ({ ...strip(r), kind: r.kind, seed: r.seed }) as unknown as ComparisonAudit);
  return { runs, audits };
}
