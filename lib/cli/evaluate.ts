// `noisynn eval` and `noisynn audit`: score saved weights, and check whether the score leaks labels.
import * as fs from 'fs';
import * as path from 'path';
import { auditLeakage, describePairedTest } from '../audit';
import { DataLoader, ORDERS, Order } from '../dataloader';
import { randomSubset } from '../datasets';
import { OFFICIAL_PROTOCOLS } from '../defaults';
import { createModel, ModelVariantName, MODEL_VARIANTS, NoisyModel } from '../models';
import { Trainer } from '../trainer';
import { CommandSpec, OptionSpec, UsageError } from './args';
import type { CliContext } from './context';
import { describeNoise, percent, Progress } from './progress';
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
} from './options';

const WEIGHTS_OPTION: OptionSpec = {
  name: 'weights',
  type: 'string',
  valueName: 'FILE|DIR',
  description: 'The weights to score (required): a safetensors file, or a train run folder (its model.safetensors).',
};

const COMMON = (noiseDefault: string): OptionSpec[] => [
  ...DATA_OPTIONS,
  { name: 'split', type: 'choice', choices: ['train', 'test'], default: 'test', description: 'Which split to score.' },
  MODEL_OPTION,
  WEIGHTS_OPTION,
  ...NOISE_OPTIONS.map((spec) => (spec.name === 'noise' ? { ...spec, defaultText: noiseDefault } : spec)),
  {
    name: 'samples',
    type: 'nonNegativeInteger',
    valueName: 'N',
    default: 0,
    description: 'Score a random subset of N images (0: all).',
  },
  {
    name: 'seed',
    type: 'nonNegativeInteger',
    valueName: 'N',
    default: 0,
    description: 'Seed of the shuffled order, the subset and the noise.',
  },
  ...RUNTIME_OPTIONS,
  { name: 'json', type: 'boolean', description: 'Print JSON.' },
];

export const EVAL_COMMAND: CommandSpec = {
  name: 'eval',
  summary: 'Score saved weights on a dataset split: loss, top-1 and top-5 accuracy.',
  description:
    "By default the test batches are shuffled and the model's noise ('default': while training only) is off at evaluation: " +
    "the leak-free protocol. --noise official reproduces the paper's protocol, test batches included (OFFICIAL_PROTOCOLS): " +
    `ViT ${OFFICIAL_PROTOCOLS.vit.summary}; CNN ${OFFICIAL_PROTOCOLS.cnn.summary}.`,
  options: [
    ...COMMON('default'),
    {
      name: 'batch-size',
      type: 'positiveInteger',
      valueName: 'N',
      defaultText: `64; with --noise official the protocol's ${OFFICIAL_PROTOCOLS.vit.evalBatchSize} (ViT) or ${OFFICIAL_PROTOCOLS.cnn.evalBatchSize} (CNN)`,
      description: 'Evaluation batch size.',
    },
    {
      name: 'order',
      type: 'choice',
      choices: ORDERS,
      defaultText: 'shuffle; classSorted with --noise official',
      description: 'Order of the test batches.',
    },
  ],
  examples: [
    'noisynn eval --weights runs/train-20250101-120000',
    'noisynn eval --weights model.safetensors --noise official',
  ],
};

export const AUDIT_COMMAND: CommandSpec = {
  name: 'audit',
  summary: 'Check whether accuracy depends on which images share a test batch (a label leak).',
  description:
    "Scores the model three ways: class-sorted batches (the paper's evaluation order), shuffled batches of the same size, and one image at a time. " +
    'The leak test is class-sorted vs shuffled with the same noise, one-sided (sorted better), on the images the two disagree on: ' +
    'exact binomial when fewer than 25 disagree, McNemar otherwise, at --alpha. It prints the paired accuracy difference with its 95% interval ' +
    "and the smallest leak the test could detect (80% power). The batch-size-1 pairs measure the noise's own effect (batch size 1 switches " +
    "batch-axis noise off), never a leak. The noise defaults to 'official', the protocol the audit exists to check. Exits 0 whatever the verdict.",
  options: [
    ...COMMON('official'),
    {
      name: 'batch-size',
      type: 'positiveInteger',
      valueName: 'N',
      defaultText: `the official protocol's: ${OFFICIAL_PROTOCOLS.vit.evalBatchSize} (ViT), ${OFFICIAL_PROTOCOLS.cnn.evalBatchSize} (CNN)`,
      description: 'Batch size of the class-sorted and shuffled passes.',
    },
    {
      name: 'alpha',
      type: 'fraction',
      valueName: 'X',
      default: 0.001,
      description: 'Level of the tests (the leak test one-sided).',
    },
  ],
  examples: [
    'noisynn audit --weights runs/train-20250101-120000',
    'noisynn audit --weights model.safetensors --noise none --samples 2000',
  ],
};

/** A weights argument: a file, or a run folder holding model.safetensors. */
function resolveWeights(value: unknown, cwd: string): string {
  if (value === undefined)
    throw new UsageError('Missing required option --weights (a safetensors file or a train run folder)');
  const p = path.resolve(cwd, value as string);
  if (fs.existsSync(p) && fs.statSync(p).isDirectory()) {
    const inside = path.join(p, 'model.safetensors');
    if (!fs.existsSync(inside)) throw new UsageError(`--weights ${value}: the folder has no model.safetensors`);
    return inside;
  }
  if (!fs.existsSync(p)) throw new UsageError(`--weights ${value}: file not found`);
  return p;
}

/**
 * What a train run folder's config.json says about the model and data, when --weights points
 * into one: the defaults for --model, --dataset, --root and --image-size.
 */
function defaultsOfRun(weights: string): Record<string, unknown> {
  const config = path.join(path.dirname(weights), 'config.json');
  if (!fs.existsSync(config)) return {};
  try {
    const saved = JSON.parse(fs.readFileSync(config, 'utf8')) as {
      command?: string;
      model?: { name?: string };
      options?: Record<string, unknown>;
    };
    if (saved.command !== 'train') return {};
    const name = saved.model?.name;
    const out: Record<string, unknown> = {};
    if (name !== undefined && name in MODEL_VARIANTS) out.model = name;
    for (const key of ['dataset', 'root', 'imageSize'])
      if (saved.options?.[key] !== undefined) out[key] = saved.options[key];
    return out;
  } catch {
    return {};
  }
}

async function prepare(
  parsed: Record<string, unknown>,
  given: Set<string>,
  ctx: CliContext,
  noiseDefault: 'default' | 'official',
) {
  const weights = resolveWeights(parsed.weights, ctx.cwd);
  const o = { ...parsed };
  for (const [key, value] of Object.entries(defaultsOfRun(weights))) if (!given.has(key)) o[key] = value;
  const progress = new Progress(ctx.stderr, { quiet: o.quiet === true });
  const device = resolveDevice(o.device as string);
  const requested = o.model as ModelVariantName | undefined;
  const dataOptions = {
    dataset: o.dataset as DatasetName,
    root: o.root as string | undefined,
    imageSize: o.imageSize as number | undefined,
  };
  const full = openDataset(
    dataOptions,
    o.split as 'train' | 'test',
    o.dataset === 'imagefolder' ? modelForImageFolder(requested) : undefined,
  );
  const modelName = chooseModel(requested, full);
  const noise = noiseFromOptions(o, noiseDefault, modelName);
  const transforms = datasetTransforms(full, false);
  progress.info(`loading ${o.dataset} (${o.split})...`);
  const count = o.samples as number;
  const dataset =
    count > 0 && count < full.length ? await randomSubset(await full.load(), count, o.seed as number) : full;
  const model: NoisyModel = createModel(modelName, { numClasses: full.classes.length, noise, initSeed: 0 });
  try {
    if (device !== 'cpu') model.to(device);
    await model.loadWeights(weights, { strict: true });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { o, progress, model, modelName, dataset, transforms, device, weights };
}

export async function runEval(parsed: Record<string, unknown>, given: Set<string>, ctx: CliContext): Promise<number> {
  const { o, progress, model, modelName, dataset, transforms, device, weights } = await prepare(
    parsed,
    given,
    ctx,
    'default',
  );
  try {
    // --noise official: the official protocol's test batches, unless given.
    const protocol = o.noise === 'official' ? OFFICIAL_PROTOCOLS[model.family] : undefined;
    const batchSize = (o.batchSize as number | undefined) ?? protocol?.evalBatchSize ?? 64;
    const order = (o.order as Order | undefined) ?? protocol?.evalOrder ?? 'shuffle';
    const loader = new DataLoader(dataset, {
      batchSize,
      order,
      seed: o.seed as number,
      transforms,
      numWorkers: o.workers as number,
      device,
    });
    progress.info(
      `scoring ${modelName} on ${dataset.length} images (${order} batches of ${batchSize}, noise ${describeNoise(model.noise)})...`,
    );
    const r = await new Trainer(model, { seed: 0 }).evaluate(loader);
    if (o.json) {
      ctx.stdout.write(
        `${JSON.stringify({ model: modelName, weights, split: o.split, order, batchSize, noise: model.noise, ...r }, null, 2)}\n`,
      );
    } else {
      const orderText = { shuffle: 'shuffled', classSorted: 'class-sorted', sequential: 'sequential' }[order];
      ctx.stdout.write(
        `top-1 ${percent(r.top1, 2)} · top-5 ${percent(r.top5, 2)} · loss ${r.loss.toFixed(4)} · ${r.samples} images (${o.split} split, ${orderText} batches of ${batchSize})\n`,
      );
    }
    return 0;
  } finally {
    model.dispose();
  }
}

export async function runAudit(parsed: Record<string, unknown>, given: Set<string>, ctx: CliContext): Promise<number> {
  const { o, progress, model, modelName, dataset, transforms, weights } = await prepare(parsed, given, ctx, 'official');
  try {
    progress.info(
      `auditing ${modelName} on ${dataset.length} images with noise ${describeNoise(model.noise)} (three passes; batch size 1 is the slow one)...`,
    );
    const a = await auditLeakage(model, dataset, {
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize as number } : {}),
      transforms,
      seed: o.seed as number,
      numWorkers: Math.max(1, o.workers as number),
      alpha: o.alpha as number,
    });
    if (o.json) {
      ctx.stdout.write(
        `${JSON.stringify({ model: modelName, weights, split: o.split, noise: model.noise, ...a }, null, 2)}\n`,
      );
      return 0;
    }
    const rows = [
      [`class-sorted batches of ${a.batchSize}`, percent(a.sortedTop1, 2)],
      [`shuffled batches of ${a.batchSize}`, percent(a.shuffledTop1, 2)],
      ['batch size 1', a.singleTop1 === null ? 'not run' : percent(a.singleTop1, 2)],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    ctx.stdout.write(`top-1 on ${a.samples} images:\n`);
    for (const [k, v] of rows) ctx.stdout.write(`  ${k.padEnd(w)}  ${v.padStart(7)}\n`);
    const [leak, ...effects] = a.tests;
    ctx.stdout.write(`leak (class-sorted − shuffled, same noise): ${describePairedTest(leak)}\n`);
    ctx.stdout.write(
      `  smallest leak this test detects (80% power, alpha ${a.alpha}): ${(100 * a.minimumDetectableLeak).toFixed(2)} points\n`,
    );
    ctx.stdout.write("noise's own effect (batch size 1 switches batch-axis noise off; not a leak):\n");
    for (const t of effects)
      ctx.stdout.write(
        `  ${t.pair === 'sorted-single' ? 'class-sorted' : 'shuffled'} − batch size 1: ${describePairedTest(t)}\n`,
      );
    ctx.stdout.write(
      a.leakSuspected
        ? `LEAK: class-sorted batches score better than shuffled ones with the same noise (p < ${a.alpha}); report the shuffled figure.\n`
        : `no leak detected at alpha ${a.alpha} (which is not evidence of none: see the interval and the smallest detectable leak)\n`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}
