// `noisynn train`: trains one model and writes a run folder (metrics, checkpoints, weights, plot, report).
import * as fs from 'fs';
import * as path from 'path';
import { DataLoader } from '../dataloader';
import { Dataset, displayName, randomSubset } from '../datasets';
import { info } from '../info';
import { createModel, ModelVariantName, MODEL_VARIANTS } from '../models';
import { EpochEvent, EvalResult, StepEvent, Trainer } from '../trainer';
import { CommandSpec, UsageError } from './args';
import type { CliContext } from './context';
import { trainingPanels } from './curves';
import { renderChart } from './plot';
import { describeNoise, formatDuration, percent, Progress } from './progress';
import { trainingReport } from './report';
import {
  createRunFolder,
  displayPath,
  NOT_SAVED,
  readMetrics,
  readRunOptions,
  runPaths,
  withSavedOptions,
  writeJson,
} from './run-folder';
import {
  chooseModel,
  DATA_OPTIONS,
  DatasetName,
  datasetTransforms,
  MODEL_OPTION,
  modelForImageFolder,
  noiseFromOptions,
  NOISE_OPTIONS,
  openDataset,
  resolveDevice,
  RUNTIME_OPTIONS,
  trainerOptions,
  TRAINING_OPTIONS,
} from './options';

export const TRAIN_COMMAND: CommandSpec = {
  name: 'train',
  summary: 'Train a NoisyViT or NoisyCNN, evaluate it on the test split, and write a run folder.',
  description:
    'The run folder (default runs/train-<timestamp>) receives config.json, metrics.jsonl (a line per step and per epoch), ' +
    'checkpoints/ (after every epoch), model.safetensors (the final weights), results.json, curves.svg and report.html.\n\n' +
    'Ctrl-C stops after the current step and still writes the folder; --resume DIR continues it from its last checkpoint.',
  options: [
    ...DATA_OPTIONS,
    MODEL_OPTION,
    {
      name: 'weights',
      type: 'string',
      valueName: 'FILE',
      description: 'Start from these weights (safetensors; tensors whose name and shape match are loaded).',
    },
    ...NOISE_OPTIONS,
    ...TRAINING_OPTIONS,
    {
      name: 'test-samples',
      type: 'nonNegativeInteger',
      valueName: 'N',
      default: 0,
      description: 'Validate and test on a random subset of N test images (0: all).',
    },
    {
      name: 'eval-batch-size',
      type: 'positiveInteger',
      valueName: 'N',
      default: 256,
      description: 'Batch size of validation and test.',
    },
    {
      name: 'validation',
      type: 'boolean',
      default: true,
      description: 'Evaluate the test split after every epoch (--no-validation: only at the end).',
    },
    {
      name: 'seed',
      type: 'nonNegativeInteger',
      valueName: 'N',
      default: 1,
      description: 'Seed of the initial weights, data order, augmentation, dropout and noise.',
    },
    ...RUNTIME_OPTIONS,
    {
      name: 'out',
      short: 'o',
      type: 'string',
      valueName: 'DIR',
      defaultText: 'runs/train-<timestamp>',
      description: 'The run folder.',
    },
    {
      name: 'checkpoint-dir',
      type: 'string',
      valueName: 'DIR',
      defaultText: '<out>/checkpoints',
      description: 'Where checkpoints go.',
    },
    {
      name: 'resume',
      type: 'string',
      valueName: 'DIR',
      description:
        'Continue the run in DIR from its last checkpoint (its saved options apply unless given again, e.g. more --epochs).',
    },
    { name: 'json', type: 'boolean', description: 'Print the results as JSON on stdout.' },
  ],
  examples: [
    'noisynn train --epochs 5',
    'noisynn train --noise linear --noise-strength 0.3 --epochs 10 --out runs/linear',
    'noisynn train --resume runs/linear --epochs 20',
    'noisynn train --dataset cifar10 --root ~/data --model vit_mini_patch4_32 --augment',
  ],
};

async function subsetIfAsked(
  ds: Dataset,
  count: number,
  seed: number,
  progress: Progress,
  what: string,
): Promise<Dataset> {
  if (count === 0 || count >= ds.length) return ds;
  progress.info(`using a random subset of ${count} ${what} images`);
  return randomSubset(await ds.load(), count, seed);
}

export async function runTrain(parsed: Record<string, unknown>, given: Set<string>, ctx: CliContext): Promise<number> {
  const o =
    parsed.resume === undefined
      ? parsed
      : withSavedOptions(parsed, given, readRunOptions(path.resolve(ctx.cwd, parsed.resume as string), 'train'))
          .options;
  const progress = new Progress(ctx.stderr, { quiet: o.quiet === true });
  const device = resolveDevice(o.device as string);
  // Refused before any data is read or a run folder made: bf16 autocast exists on CUDA only.
  if (o.mixedPrecision === true && device === 'cpu') {
    throw new UsageError(
      '--mixed-precision (bf16 autocast) needs a CUDA device, but this run is on cpu (see --device)',
    );
  }
  const dataOptions = {
    dataset: o.dataset as DatasetName,
    root: o.root as string | undefined,
    imageSize: o.imageSize as number | undefined,
  };
  const preModel =
    o.dataset === 'imagefolder' ? modelForImageFolder(o.model as ModelVariantName | undefined) : undefined;
  const trainFull = openDataset(dataOptions, 'train', preModel);
  const testFull = openDataset(dataOptions, 'test', preModel);
  const modelName = chooseModel(o.model as ModelVariantName | undefined, trainFull);
  const family = MODEL_VARIANTS[modelName].family;
  const noise = noiseFromOptions(o, 'default', family);
  const seed = o.seed as number;
  const trainTransforms = datasetTransforms(trainFull, o.augment === true);
  const evalTransforms = datasetTransforms(trainFull, false);

  const dir = createRunFolder('train', {
    out: (o.resume as string | undefined) ?? (o.out as string | undefined),
    cwd: ctx.cwd,
    resume: o.resume !== undefined,
  });
  const paths = runPaths(dir);
  const checkpointDir = (o.checkpointDir as string | undefined) ?? paths.checkpoints;
  const savedOptions = Object.fromEntries(Object.entries(o).filter(([k, v]) => !NOT_SAVED.has(k) && v !== undefined));

  progress.info(`loading ${o.dataset}...`);
  const train = await subsetIfAsked(trainFull, o.trainSamples as number, seed, progress, 'training');
  const test = await subsetIfAsked(testFull, o.testSamples as number, seed + 1, progress, 'test');
  const model = createModel(modelName, { numClasses: trainFull.classes.length, noise, initSeed: seed });
  try {
    if (device !== 'cpu') model.to(device);
    if (o.weights !== undefined) {
      if (!fs.existsSync(o.weights as string)) throw new UsageError(`--weights ${o.weights}: file not found`);
      const report = await model.loadWeights(o.weights as string, { strict: false });
      progress.info(
        `loaded ${report.loaded.length} tensors from ${o.weights}` +
          (report.missing.length + report.mismatched.length
            ? ` (${report.missing.length + report.mismatched.length} left as initialised: ${[...report.missing, ...report.mismatched].slice(0, 4).join(', ')}${report.missing.length + report.mismatched.length > 4 ? ', ...' : ''})`
            : ''),
      );
    }
    const workers = o.workers as number;
    const batchSize = o.batchSize as number;
    const trainLoader = new DataLoader(train, {
      batchSize,
      order: 'shuffle',
      seed,
      transforms: trainTransforms,
      numWorkers: workers,
      device,
    });
    const testLoader = new DataLoader(test, {
      batchSize: o.evalBatchSize as number,
      order: 'shuffle',
      seed: 0,
      transforms: evalTransforms,
      numWorkers: workers,
      device,
    });
    const epochs = o.epochs as number;
    const trainer = new Trainer(model, trainerOptions(o, epochs * trainLoader.length));
    const config = {
      command: 'train',
      options: savedOptions,
      model: { name: modelName, family, parameters: model.numParameters(), noise: model.noise },
      data: {
        dataset: o.dataset,
        train: train.length,
        test: test.length,
        transforms: trainTransforms.map((t) => t.kind),
      },
      trainer: trainer.options,
      device,
      started: new Date().toISOString(),
    };
    writeJson(paths.config, config);

    progress.info(
      `training ${modelName} (${model.numParameters().toLocaleString('en-US')} parameters, noise ${describeNoise(model.noise)}) ` +
        `on ${train.length} images for ${epochs} epoch${epochs === 1 ? '' : 's'} · run folder ${displayPath(dir, ctx.cwd)}`,
    );
    trainer.on('step', (e: StepEvent) => progress.step({ ...e, epochs }));
    trainer.on('epoch', (e: EpochEvent) => progress.epoch(e));
    const started = new Date();
    const fit = await trainer.fit(trainLoader, {
      epochs,
      validation: o.validation === false ? undefined : testLoader,
      checkpointDir,
      signal: ctx.signal,
      metricsLog: paths.metrics,
    });
    if (fit.resumedFrom !== null) progress.info(`resumed from the checkpoint of epoch ${fit.resumedFrom}`);
    let test_: EvalResult | undefined;
    if (!fit.aborted) {
      testLoader.setEpoch(0);
      const last = fit.history[fit.history.length - 1];
      test_ = last?.validation ?? (await trainer.evaluate(testLoader));
    } else {
      progress.log(
        `interrupted after ${fit.steps} steps; continue with: noisynn train --resume ${displayPath(dir, ctx.cwd)}`,
      );
    }
    await model.saveWeights(paths.weights);
    const seconds = (Date.now() - started.getTime()) / 1000;
    const nfo = info();
    const environment = {
      'noisynn-native': nfo.version,
      libtorch: nfo.libtorchVersion,
      BLAS: nfo.blas,
      threads: nfo.threads,
      device,
      node: process.version,
    };
    const results = {
      test: test_ ?? null,
      aborted: fit.aborted,
      epochs: fit.epochs,
      steps: fit.steps,
      resumedFrom: fit.resumedFrom,
      seconds,
      history: fit.history,
      environment,
    };
    writeJson(paths.results, results);
    const dataName = displayName(trainFull);
    const svg = renderChart(trainingPanels(readMetrics(paths.metrics)), { title: `${modelName} on ${dataName}` });
    fs.writeFileSync(paths.curves, svg);
    // totalSteps null means "set by fit": show the steps it used instead.
    const { schedule } = trainer.options;
    const trainerShown = {
      ...trainer.options,
      schedule: { ...schedule, totalSteps: schedule.totalSteps ?? epochs * trainLoader.length },
    };
    const flatConfig = {
      model: modelName,
      parameters: model.numParameters(),
      dataset: dataName,
      trainImages: train.length,
      testImages: test.length,
      noise: model.noise,
      trainer: trainerShown,
      device,
    };
    const n = model.noise;
    const evalNoise =
      n.kind !== 'none' && n.when !== 'train' ? `${n.kind} noise at evaluation` : 'no noise at evaluation';
    fs.writeFileSync(
      paths.report,
      trainingReport(
        {
          config: flatConfig,
          history: fit.history,
          test: test_,
          testProtocol: `${evalNoise}, shuffled batches of ${o.evalBatchSize}`,
          aborted: fit.aborted,
          resumedFrom: fit.resumedFrom,
          seconds,
          environment,
        },
        svg,
        {
          command: ctx.commandLine,
          started,
          title: `noisynn train: ${modelName} on ${dataName}`,
        },
      ),
    );
    if (o.json) {
      ctx.stdout.write(`${JSON.stringify({ runFolder: dir, ...results }, null, 2)}\n`);
    } else {
      const line = test_
        ? `test top-1 ${percent(test_.top1, 2)} · top-5 ${percent(test_.top5, 2)} · loss ${test_.loss.toFixed(4)} · ${test_.samples} images · ${formatDuration(seconds)}`
        : `interrupted after ${fit.epochs} complete epoch${fit.epochs === 1 ? '' : 's'}`;
      ctx.stdout.write(
        `${line}\nrun folder: ${displayPath(dir, ctx.cwd)} (report.html, curves.svg, model.safetensors)\n`,
      );
    }
    return fit.aborted ? 130 : 0;
  } finally {
    model.dispose();
  }
}
