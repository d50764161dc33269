// `noisynn info` and `noisynn models`: what this installation runs on, and the model registry.
import { info } from '../info';
import { listModels, MODEL_VARIANTS, ModelVariant } from '../models';
import { CommandSpec } from './args';
import type { CliContext } from './context';

export const INFO_COMMAND: CommandSpec = {
  name: 'info',
  summary: 'Show the package, libtorch, BLAS, threads and CUDA this installation uses.',
  options: [{ name: 'json', type: 'boolean', description: 'Print JSON.' }],
  examples: ['noisynn info', 'noisynn info --json'],
};

export const MODELS_COMMAND: CommandSpec = {
  name: 'models',
  summary: 'List the registered model variants with their parameter counts and input sizes.',
  options: [
    { name: 'json', type: 'boolean', description: 'Print JSON.' },
    { name: 'family', type: 'choice', choices: ['vit', 'cnn'], description: 'Only this family.' },
  ],
  examples: ['noisynn models', 'noisynn models --family cnn --json'],
};

export function runInfo(options: Record<string, unknown>, ctx: CliContext): number {
  const i = info();
  if (options.json) {
    ctx.stdout.write(`${JSON.stringify(i, null, 2)}\n`);
    return 0;
  }
  const rows: [string, string][] = [
    ['noisynn-native', i.version],
    ['libtorch', i.libtorchVersion],
    ['BLAS', i.blas],
    ['CPU threads', String(i.threads)],
    ['CPU noise kernels', i.cpuKernels],
    ['CUDA kernels built', i.cudaBuilt ? 'yes' : 'no'],
    ['CUDA available', i.cuda ? `yes (${i.gpus.join(', ')})` : 'no'],
    ['Node.js', process.version],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  ctx.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
  for (const w of i.warnings) ctx.stdout.write(`warning: ${w}\n`);
  return 0;
}

/**
 * Trainable parameters of a variant, from its architecture (no model is built, so the 300M
 * parameter ViT-L costs nothing). Matches timm / torchvision; test/cli.test.ts checks it against
 * numParameters() of built models.
 */
export function countParameters(variant: ModelVariant, numClasses?: number): number {
  if (variant.family === 'vit') {
    const c = { imageSize: 224, patchSize: 16, inChannels: 3, numClasses: 1000, embedDim: 768, depth: 12, mlpRatio: 4, ...variant.config };
    const d = c.embedDim;
    const classes = numClasses ?? c.numClasses;
    const tokens = (c.imageSize / c.patchSize) ** 2 + 1;
    const hidden = Math.trunc(d * c.mlpRatio);
    const block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * hidden + hidden) + (hidden * d + d);
    return c.inChannels * c.patchSize ** 2 * d + d + d + tokens * d + c.depth * block + 2 * d + d * classes + classes;
  }
  const c = { block: 'basic', layers: [2, 2, 2, 2], inChannels: 3, numClasses: 1000, stem: 'imagenet', ...variant.config };
  const classes = numClasses ?? c.numClasses;
  const expansion = c.block === 'basic' ? 1 : 4;
  const bn = (ch: number) => 2 * ch;
  let total = c.inChannels * 64 * (c.stem === 'small' ? 9 : 49) + bn(64);
  let inCh = 64;
  c.layers.forEach((blocks, stage) => {
    const width = 64 * 2 ** stage;
    for (let b = 0; b < blocks; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      const out = width * expansion;
      if (c.block === 'basic') total += inCh * width * 9 + bn(width) + width * width * 9 + bn(width);
      else total += inCh * width + bn(width) + width * width * 9 + bn(width) + width * out + bn(out);
      if (stride !== 1 || inCh !== out) total += inCh * out + bn(out);
      inCh = out;
    }
  });
  return total + inCh * classes + classes;
}

export function runModels(options: Record<string, unknown>, ctx: CliContext): number {
  const names = listModels().filter((n) => options.family === undefined || MODEL_VARIANTS[n].family === options.family);
  const rows = names.map((name) => {
    const v = MODEL_VARIANTS[name];
    const cfg = v.config as { inChannels?: number; numClasses?: number };
    return {
      name,
      family: v.family,
      parameters: countParameters(v),
      imageSize: v.imageSize,
      inChannels: cfg.inChannels ?? 3,
      numClasses: cfg.numClasses ?? 1000,
      description: v.description,
    };
  });
  if (options.json) {
    ctx.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const table = [
    ['name', 'family', 'parameters', 'input', 'classes', 'description'],
    ...rows.map((r) => [r.name, r.family, r.parameters.toLocaleString('en-US'), `${r.inChannels}x${r.imageSize}x${r.imageSize}`, String(r.numClasses), r.description]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const right = new Set([2, 4]);
  for (const r of table) {
    ctx.stdout.write(r.map((cell, i) => (i === r.length - 1 ? cell : right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ') + '\n');
  }
  ctx.stdout.write('\nOverride the head with --model NAME on a dataset: the classes follow the dataset.\n');
  return 0;
}
