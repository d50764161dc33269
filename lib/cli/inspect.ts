// `noisynn info` and `noisynn models`: what this installation runs on, and the model registry.
import { info } from '../info';
import { listModels, MODEL_VARIANTS, variantInputs } from '../models';
import { CommandSpec } from './args';
import type { CliContext } from './context';
import { cacheDir, parameterCounts } from './parameter-counts';

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

export function runModels(options: Record<string, unknown>, ctx: CliContext): number {
  const names = listModels().filter((n) => options.family === undefined || MODEL_VARIANTS[n].family === options.family);
  const parameters = parameterCounts(names, (missing) =>
    ctx.stderr.write(
      `counting the parameters of ${missing} variant${missing === 1 ? '' : 's'} (once; cached in ${cacheDir()})...\n`,
    ),
  );
  const rows = names.map((name, i) => {
    const v = MODEL_VARIANTS[name];
    const { imageSize, inChannels, numClasses } = variantInputs(v);
    return {
      name,
      family: v.family,
      parameters: parameters[i],
      imageSize,
      inChannels,
      numClasses,
      description: v.description,
    };
  });
  if (options.json) {
    ctx.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const table = [
    ['name', 'family', 'parameters', 'input', 'classes', 'description'],
    ...rows.map((r) => [
      r.name,
      r.family,
      r.parameters.toLocaleString('en-US'),
      `${r.inChannels}x${r.imageSize}x${r.imageSize}`,
      String(r.numClasses),
      r.description,
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  const right = new Set([2, 4]);
  for (const r of table) {
    ctx.stdout.write(
      r
        .map((cell, i) =>
          i === r.length - 1 ? cell : right.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]),
        )
        .join('  ') + '\n',
    );
  }
  ctx.stdout.write('\nOverride the head with --model NAME on a dataset: the classes follow the dataset.\n');
  return 0;
}
