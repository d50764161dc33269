// `noisynn compare`: the main job. Runs runComparison, shows progress, writes the run folder.
import * as fs from 'fs';
import * as path from 'path';
import {
  CNN_CPU_COMPARISON as CNN_CPU_DEFAULTS,
  CNN_CPU_QUICK_COMPARISON as CNN_CPU_QUICK,
  COMPARISON_DEFAULTS,
  COMPARISON_MODELS,
  ComparisonOptions,
  ComparisonResult,
  formatComparisonTable,
  QUICK_COMPARISON,
  resumeFromLog,
  runComparison,
} from '../compare';
import { OFFICIAL_PROTOCOLS, WARMUP_RULE } from '../defaults';
import { ModelVariantName, MODEL_VARIANTS, OFFICIAL_CNN_NOISE } from '../models';
import { DEFAULT_STRENGTH, NOISE_KINDS, NoiseKind } from '../noise';
import { CommandSpec, UsageError } from './args';
import type { CliContext } from './context';
import { comparisonPanels } from './curves';
import { renderChart } from './plot';
import { formatDuration, percent, Progress } from './progress';
import { comparisonReport } from './comparison-report';
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
  DATASETS,
  DatasetName,
  modelForImageFolder,
  openDataset,
  parseSeeds,
  parseStrengths,
  resolveDevice,
  RUNTIME_OPTIONS,
} from './options';

export const COMPARE_COMMAND: CommandSpec = {
  name: 'compare',
  summary:
    'The NoisyNN experiment: train the same model with no, linear, optimal, gaussian and salt-and-pepper noise over several seeds, ' +
    "and report whether each noise helps when nothing leaks (paired against no noise, 95% intervals, Holm-corrected), and what the paper's official protocol adds, with a leakage audit of every model.",
  description:
    'Noise is applied while training (the official site, along the batch; for a CNN detached, as its official code). Each model is then scored three ways: ' +
    "leak-free (no noise at evaluation, shuffled test batches), with its noise at evaluation on shuffled batches (the noise's own effect), and " +
    `official (its noise at evaluation on class-sorted batches, as the family's official code: ViT ${OFFICIAL_PROTOCOLS.vit.summary}; CNN ${OFFICIAL_PROTOCOLS.cnn.summary}). ` +
    "Every model is audited for the leak (class-sorted vs shuffled batches, same noise). The official ViT code has no linear noise: that row is this package's. " +
    '--quick takes about a minute (a smoke test: too few steps and seeds for the kinds to differ).\n\n' +
    'The run folder (default runs/compare-<timestamp>) receives table.md, results.json, metrics.jsonl, checkpoints/ (of the run in progress), ' +
    'curves.svg and report.html. Ctrl-C stops after the current step and writes what finished; --resume DIR continues.',
  options: [
    {
      name: 'family',
      type: 'choice',
      choices: ['vit', 'cnn'],
      default: 'vit',
      description: 'NoisyViT (mini ViT) or NoisyCNN (small-stem ResNet-18).',
    },
    {
      name: 'model',
      type: 'choice',
      choices: Object.keys(MODEL_VARIANTS),
      valueName: 'NAME',
      defaultText: 'by family and dataset: vit_mini_patch7_28 on 28x28 images',
      description: 'A registered variant (see noisynn models).',
    },
    { name: 'dataset', type: 'choice', choices: DATASETS, default: 'fashion-mnist', description: 'The dataset.' },
    {
      name: 'root',
      type: 'string',
      valueName: 'DIR',
      defaultText: '/usr/share/datasets/fashion-mnist',
      description: 'Folder of the dataset files.',
    },
    {
      name: 'image-size',
      type: 'positiveInteger',
      valueName: 'N',
      defaultText: "the model's",
      description: 'imagefolder only: resize images to N x N.',
    },
    {
      name: 'kinds',
      type: 'choiceList',
      choices: NOISE_KINDS,
      valueName: 'LIST',
      default: [...NOISE_KINDS],
      description: 'Noise kinds to compare, comma-separated.',
    },
    {
      name: 'seeds',
      type: 'string',
      parse: parseSeeds,
      valueName: 'N|LIST',
      defaultText: `${COMPARISON_DEFAULTS.seeds.length} (quick: ${QUICK_COMPARISON.seeds?.length}; cnn on CPU: ${CNN_CPU_DEFAULTS.seeds?.length})`,
      description: 'How many seeds (counting up from --seed), or a comma-separated list.',
    },
    {
      name: 'seed',
      type: 'nonNegativeInteger',
      valueName: 'N',
      default: 1,
      description: 'First seed when --seeds is a count.',
    },
    {
      name: 'epochs',
      type: 'positiveInteger',
      valueName: 'N',
      defaultText: `${COMPARISON_DEFAULTS.epochs} (quick: ${QUICK_COMPARISON.epochs}; cnn on CPU: ${CNN_CPU_DEFAULTS.epochs})`,
      description: 'Training epochs per run.',
    },
    {
      name: 'train-samples',
      type: 'nonNegativeInteger',
      valueName: 'N',
      defaultText: `${COMPARISON_DEFAULTS.trainSamples} (quick: ${QUICK_COMPARISON.trainSamples}; cnn on CPU: ${CNN_CPU_DEFAULTS.trainSamples})`,
      description: 'Random subset of training images (0: all).',
    },
    {
      name: 'test-samples',
      type: 'nonNegativeInteger',
      valueName: 'N',
      defaultText: `${COMPARISON_DEFAULTS.testSamples} (quick: ${QUICK_COMPARISON.testSamples}; cnn on CPU: ${CNN_CPU_DEFAULTS.testSamples})`,
      description: 'Random subset of test images (0: all).',
    },
    {
      name: 'batch-size',
      type: 'positiveInteger',
      valueName: 'N',
      default: COMPARISON_DEFAULTS.batchSize,
      description: 'Training batch size.',
    },
    {
      name: 'eval-batch-size',
      type: 'positiveInteger',
      valueName: 'N',
      default: COMPARISON_DEFAULTS.evalBatchSize,
      description: `Batch size of the leak-free evaluation (shuffled, no noise). The official protocol and the audit use its own: ${OFFICIAL_PROTOCOLS.vit.evalBatchSize} (ViT), ${OFFICIAL_PROTOCOLS.cnn.evalBatchSize} (CNN).`,
    },
    {
      name: 'lr',
      type: 'positiveNumber',
      valueName: 'X',
      default: COMPARISON_DEFAULTS.lr,
      description: 'AdamW peak learning rate (cosine schedule).',
    },
    {
      name: 'weight-decay',
      type: 'nonNegativeNumber',
      valueName: 'X',
      default: COMPARISON_DEFAULTS.weightDecay,
      description: 'AdamW weight decay.',
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
      name: 'noise-strength',
      type: 'string',
      parse: parseStrengths,
      valueName: 'KIND=X,...',
      defaultText: `linear=${DEFAULT_STRENGTH.linear} (cnn: ${OFFICIAL_CNN_NOISE.strength}),gaussian=${DEFAULT_STRENGTH.gaussian},saltPepper=${DEFAULT_STRENGTH.saltPepper}`,
      description: 'Per-kind strength (linear a, gaussian s with mean 0 and std 1, saltPepper p).',
    },
    {
      name: 'noise-axis',
      type: 'choice',
      choices: ['batch', 'spatial'],
      default: 'batch',
      description: 'Mixing axis (batch: the official code).',
    },
    {
      name: 'audit',
      type: 'boolean',
      default: true,
      description: "Audit every run's model for the leak (--no-audit to skip).",
    },
    {
      name: 'audit-samples',
      type: 'nonNegativeInteger',
      valueName: 'N',
      defaultText: `${COMPARISON_DEFAULTS.auditSamples || 'all'} (quick: ${QUICK_COMPARISON.auditSamples})`,
      description: 'Test images each audit uses (0: all the test images).',
    },
    {
      name: 'quick',
      type: 'boolean',
      description: `A small job (${QUICK_COMPARISON.seeds?.length} seeds, ${QUICK_COMPARISON.epochs} epoch on ${QUICK_COMPARISON.trainSamples} images, ${QUICK_COMPARISON.testSamples} test images, audits on ${QUICK_COMPARISON.auditSamples}): about a minute on two CPU cores.`,
    },
    ...RUNTIME_OPTIONS,
    {
      name: 'jobs',
      type: 'positiveInteger',
      valueName: 'N',
      defaultText: "on CPU libtorch's threads, one each; on CUDA 1",
      description:
        'Runs trained at once, side by side, each with its share of the CPU threads (on 2 cores --quick: 44 s as one job of two threads, 16 s as two jobs of one).',
    },
    {
      name: 'out',
      short: 'o',
      type: 'string',
      valueName: 'DIR',
      defaultText: 'runs/compare-<timestamp>',
      description: 'The run folder.',
    },
    {
      name: 'resume',
      type: 'string',
      valueName: 'DIR',
      description: 'Continue an interrupted comparison in DIR (finished runs are not retrained).',
    },
    { name: 'json', type: 'boolean', description: 'Print results.json on stdout instead of the table.' },
  ],
  examples: [
    'noisynn compare',
    'noisynn compare --quick',
    'noisynn compare --seeds 5 --epochs 10 --train-samples 0',
    'noisynn compare --family cnn --device cuda',
    'noisynn compare --kinds none,optimal --seeds 1,7,42 --out runs/optimal',
  ],
};

/** The comparison's library options from the parsed flags (quick and family presets under explicit flags). */
export function comparisonOptions(
  o: Record<string, unknown>,
  given: Set<string>,
  device: string,
): Partial<ComparisonOptions> {
  const family = o.family as 'vit' | 'cnn';
  const cnnOnCpu = family === 'cnn' && device === 'cpu';
  const preset: Partial<ComparisonOptions> = o.quick
    ? cnnOnCpu
      ? CNN_CPU_QUICK
      : QUICK_COMPARISON
    : cnnOnCpu
      ? CNN_CPU_DEFAULTS
      : {};
  // These flags have no parser default, so undefined means "not given": the preset decides.
  const pick = <K extends keyof ComparisonOptions>(key: K, flag: string): ComparisonOptions[K] | undefined =>
    o[flag] !== undefined ? (o[flag] as ComparisonOptions[K]) : preset[key];
  const seedsSpec = o.seeds as { count: number } | { list: number[] } | undefined;
  let seeds: number[] | undefined = preset.seeds ? [...preset.seeds] : undefined;
  if (seedsSpec && 'list' in seedsSpec) seeds = seedsSpec.list;
  else if (seedsSpec) seeds = Array.from({ length: seedsSpec.count }, (_, i) => (o.seed as number) + i);
  else if (given.has('seed'))
    seeds = Array.from(
      { length: (preset.seeds ?? COMPARISON_DEFAULTS.seeds).length },
      (_, i) => (o.seed as number) + i,
    );
  return {
    family,
    kinds: o.kinds as NoiseKind[],
    seeds,
    epochs: pick('epochs', 'epochs'),
    trainSamples: pick('trainSamples', 'trainSamples'),
    testSamples: pick('testSamples', 'testSamples'),
    batchSize: o.batchSize as number,
    evalBatchSize: o.evalBatchSize as number,
    lr: o.lr as number,
    weightDecay: o.weightDecay as number,
    warmupSteps: o.warmupSteps as number | undefined,
    labelSmoothing: o.labelSmoothing as number,
    strengths: o.noiseStrength as Partial<Record<NoiseKind, number>> | undefined,
    axis: o.noiseAxis as 'batch' | 'spatial',
    audit: o.audit as boolean,
    auditSamples: pick('auditSamples', 'auditSamples'),
    numWorkers: o.workers as number,
    ...(o.jobs === undefined ? {} : { jobs: o.jobs as number }),
  };
}

export async function runCompare(
  parsed: Record<string, unknown>,
  given: Set<string>,
  ctx: CliContext,
): Promise<number> {
  let o = parsed;
  let effectiveGiven = given;
  if (parsed.resume !== undefined) {
    // The saved flags apply again, so the resumed job is the same experiment.
    const saved = readRunOptions(path.resolve(ctx.cwd, parsed.resume as string), 'compare');
    ({ options: o, given: effectiveGiven } = withSavedOptions(
      parsed,
      given,
      (saved.flags as Record<string, unknown>) ?? {},
    ));
  }
  const progress = new Progress(ctx.stderr, { quiet: o.quiet === true });
  const device = resolveDevice(o.device as string);
  const family = o.family as 'vit' | 'cnn';
  const dataOptions = {
    dataset: o.dataset as DatasetName,
    root: o.root as string | undefined,
    imageSize: o.imageSize as number | undefined,
  };
  const preModel =
    o.dataset === 'imagefolder' ? modelForImageFolder(o.model as ModelVariantName | undefined, family) : undefined;
  const train = openDataset(dataOptions, 'train', preModel);
  const test = openDataset(dataOptions, 'test', preModel);
  // The comparison's own default for the image shape first (COMPARISON_MODELS), then the family's.
  const model = chooseModel(
    (o.model as ModelVariantName | undefined) ?? COMPARISON_MODELS[family]?.[train.imageShape.join('x')],
    train,
    family,
  );
  if (MODEL_VARIANTS[model].family !== family && effectiveGiven.has('family')) {
    throw new UsageError(`--model ${model} is a ${MODEL_VARIANTS[model].family} model but --family is ${family}`);
  }
  // The model decides the family (and so the CNN presets) when only --model is given.
  const options = comparisonOptions({ ...o, family: MODEL_VARIANTS[model].family }, effectiveGiven, device);

  const dir = createRunFolder('compare', {
    out: (o.resume as string | undefined) ?? (o.out as string | undefined),
    cwd: ctx.cwd,
    resume: o.resume !== undefined,
  });
  const paths = runPaths(dir);
  const flags = Object.fromEntries(
    Object.entries(o).filter(([k, v]) => effectiveGiven.has(k) && !NOT_SAVED.has(k) && v !== undefined),
  );
  const started = new Date();
  writeJson(paths.config, {
    command: 'compare',
    options: { flags },
    started: started.toISOString(),
    commandLine: ctx.commandLine,
  });

  const inFlight = new Map<number, string>();
  const result: ComparisonResult = await runComparison({
    ...options,
    model,
    train,
    test,
    device,
    metricsLog: paths.metrics,
    checkpointDir: paths.checkpoints,
    // Runs the interrupted job finished are taken from its log, not retrained.
    ...(parsed.resume !== undefined
      ? { resume: resumeFromLog(readMetrics(paths.metrics) as unknown as Record<string, unknown>[]) }
      : {}),
    signal: ctx.signal,
    onMessage: (m) => progress.info(m),
    onRunStart: (run) => {
      if (run.index === 0) {
        progress.info(
          `${run.total} runs (${options.kinds?.join(', ')} × seeds ${options.seeds?.join(', ') ?? COMPARISON_DEFAULTS.seeds.join(', ')}) of ` +
            `${run.epochs} epoch${run.epochs === 1 ? '' : 's'} × ${run.stepsPerEpoch} steps · run folder ${displayPath(dir, ctx.cwd)}`,
        );
        progress.startJob(run.total * run.epochs * run.stepsPerEpoch);
      }
      // Runs train side by side (--jobs): the bar names every run in flight.
      inFlight.set(run.index, `[${run.index + 1}/${run.total}] ${run.kind} seed ${run.seed}`);
      progress.startRun([...inFlight.values()].join(' + '));
      if (run.restored) progress.dropFromJob(run.epochs * run.stepsPerEpoch);
    },
    onStep: (_run, e) => progress.step({ ...e, epochs: _run.epochs }),
    onRunEnd: (run, r) => {
      inFlight.delete(run.index);
      progress.info(
        `[${run.index + 1}/${run.total}] ${run.kind} seed ${run.seed}${run.restored ? ' (from the interrupted job)' : ''}: leak-free ${percent(r.leakFree.top1, 2)} · official ${percent(r.official.top1, 2)} · train loss ${r.trainLoss.toFixed(3)} · ${formatDuration(r.trainSeconds)}`,
      );
    },
  });
  progress.clear();

  const table = formatComparisonTable(result, 'text');
  fs.writeFileSync(paths.table, formatComparisonTable(result, 'markdown'));
  writeJson(paths.results, { ...result, runFolder: dir, commandLine: ctx.commandLine });
  const svg = renderChart(comparisonPanels(readMetrics(paths.metrics), result.config.kinds), {
    title: `${result.config.model} on ${result.config.dataset}: training curves by noise kind`,
  });
  fs.writeFileSync(paths.curves, svg);
  fs.writeFileSync(paths.report, comparisonReport(result, svg, { command: ctx.commandLine, started }));

  if (o.json) {
    ctx.stdout.write(`${JSON.stringify({ ...result, runFolder: dir }, null, 2)}\n`);
  } else {
    ctx.stdout.write(`\n${table}`);
    ctx.stdout.write(
      `\n${result.aborted ? 'interrupted; ' : ''}took ${formatDuration(result.seconds)} · run folder: ${displayPath(dir, ctx.cwd)} (report.html, table.md, results.json, curves.svg)\n`,
    );
  }
  if (result.aborted) {
    progress.log(
      `interrupted: ${result.runs.length} of ${result.config.kinds.length * result.config.seeds.length} runs finished; continue with: noisynn compare --resume ${displayPath(dir, ctx.cwd)}`,
    );
    return 130;
  }
  return 0;
}
