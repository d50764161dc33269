// The `noisynn` CLI: every command in-process through main(argv), bad options with their exact
// messages and exit statuses, and two real spawns of dist/cli.js.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { main } from '../lib/cli';
import { parseArgs, UsageError } from '../lib/cli/args';
import { createModel, MODEL_VARIANTS } from '../lib/models';
import { noiseFromOptions } from '../lib/cli/options';
import { describeNoise } from '../lib/cli/progress';
import { writeMnist } from './helpers/datafiles';
import { PARAMETER_COUNTS } from './helpers/parameter-counts';

const ROOT = path.join(__dirname, '..');

/** Runs main(argv) with captured output (non-TTY streams, so no progress bars). */
async function cli(argv: string[], options: { cwd?: string; signal?: AbortSignal } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(argv, {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s), isTTY: false },
    cwd: options.cwd ?? tmp, // relative paths (runs/) never land in the repository
    signal: options.signal,
  });
  return { status, stdout: out.join(''), stderr: err.join('') };
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-cli-'));
  // `noisynn models` caches its parameter counts: here, not in the user's cache (spawns inherit it).
  process.env.NOISYNN_CACHE_DIR = path.join(tmp, 'cache');
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('help', () => {
  test('noisynn --help lists the commands; no arguments prints it on stderr and exits 2', async () => {
    const r = await cli(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['info', 'models', 'train', 'eval', 'compare', 'audit'])
      expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const bare = await cli([]);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toContain('Usage: noisynn <command> [options]');
  });

  test.each(['info', 'models', 'train', 'eval', 'compare', 'audit'])('noisynn %s --help', async (command) => {
    const r = await cli([command, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Usage: noisynn ${command}`);
    expect(r.stdout).toContain('-h, --help');
    expect(r.stderr).toBe('');
    // Every line fits an 80-column terminal, except long option names and examples.
    for (const line of r.stdout.split('\n'))
      if (!/^ {2}(-|noisynn)/.test(line)) expect(line.length).toBeLessThanOrEqual(80);
  });

  test('--help wins over other, even bad, options; `help <command>` works too', async () => {
    expect((await cli(['train', '--epochs', 'x', '--help'])).status).toBe(0);
    const r = await cli(['help', 'compare']);
    expect(r.stdout).toContain('Usage: noisynn compare');
  });

  test('the options a user reaches for are documented', async () => {
    const train = (await cli(['train', '--help'])).stdout;
    for (const flag of [
      '--model',
      '--dataset',
      '--root',
      '--epochs',
      '--batch-size',
      '--lr',
      '--optimizer',
      '--schedule',
      '--weight-decay',
      '--label-smoothing',
      '--noise',
      '--noise-strength',
      '--noise-when',
      '--seed',
      '--device',
      '--workers',
      '--out',
      '--weights',
      '--checkpoint-dir',
      '--resume',
    ]) {
      expect(train).toContain(flag);
    }
    const compare = (await cli(['compare', '--help'])).stdout;
    for (const flag of [
      '--family',
      '--model',
      '--epochs',
      '--seeds',
      '--device',
      '--train-samples',
      '--quick',
      '--kinds',
    ])
      expect(compare).toContain(flag);
  });
});

describe('info and models', () => {
  test('info prints the runtime; --json is parseable', async () => {
    const r = await cli(['info']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^libtorch\s+\d+\.\d+/m);
    expect(r.stdout).toMatch(/^BLAS\s+/m);
    expect(r.stdout).toMatch(/^CPU noise kernels\s+(avx512|avx2|portable)$/m);
    const j = JSON.parse((await cli(['info', '--json'])).stdout) as { libtorchVersion: string; threads: number };
    expect(j.libtorchVersion).toMatch(/^\d+\.\d+/);
    expect(j.threads).toBeGreaterThan(0);
  });

  test('models counts parameters with the native models, once, then from the cache', async () => {
    const first = await cli(['models', '--json']);
    expect(first.stderr).toBe(
      `counting the parameters of 19 variants (once; cached in ${process.env.NOISYNN_CACHE_DIR})...\n`,
    );
    const rows = JSON.parse(first.stdout) as { name: string; parameters: number }[];
    expect(Object.fromEntries(rows.map((r) => [r.name, r.parameters]))).toEqual(PARAMETER_COUNTS);
    const again = await cli(['models', '--json']);
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe(first.stdout);
  });

  test('models lists every variant with parameters and input size', async () => {
    const r = await cli(['models']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/vit_mini_patch4_28\s+vit\s+205,066\s+1x28x28\s+10/);
    expect(r.stdout).toMatch(/resnet50\s+cnn\s+25,557,032\s+3x224x224\s+1000/);
    const rows = JSON.parse((await cli(['models', '--json', '--family', 'cnn'])).stdout) as {
      name: string;
      family: string;
    }[];
    expect(rows.map((x) => x.name)).toEqual(
      Object.keys(MODEL_VARIANTS).filter((n) => MODEL_VARIANTS[n as keyof typeof MODEL_VARIANTS].family === 'cnn'),
    );
  });
});

describe('bad options: one line on stderr, non-zero exit', () => {
  const cases: [string[], number, string][] = [
    [['train', '--epochs', 'x'], 2, "Expected positive integer for --epochs but received 'x'"],
    [['train', '--epochs', '0'], 2, "Expected positive integer for --epochs but received '0'"],
    [['train', '--epochs=1.5'], 2, "Expected positive integer for --epochs but received '1.5'"],
    [
      ['train', '--epoch', '3'],
      2,
      "Unknown option --epoch for 'noisynn train' (did you mean --epochs?); see noisynn train --help",
    ],
    [['train', '--lr'], 2, 'Missing value for --lr (expected X)'],
    [['train', '--lr', '-1'], 2, "Expected positive number for --lr but received '-1'"],
    [['train', '--optimizer', 'adam'], 2, "Expected one of 'adamw', 'sgd' for --optimizer but received 'adam'"],
    [['train', '--label-smoothing', '1'], 2, "Expected number in [0, 1) for --label-smoothing but received '1'"],
    [['train', '--device', 'tpu'], 2, "Expected 'auto', 'cpu', 'cuda' or 'cuda:N' for --device but received 'tpu'"],
    [
      ['train', '--noise', 'pink'],
      2,
      "Expected one of 'none', 'linear', 'optimal', 'gaussian', 'saltPepper', 'default', 'official' for --noise but received 'pink'",
    ],
    [
      ['train', '--noise-layer', 'last'],
      2,
      "Expected a block index N or STAGE:BLOCK for --noise-layer but received 'last'",
    ],
    [['train', '--quiet=maybe'], 2, "Expected true or false for --quiet but received 'maybe'"],
    [
      ['train', '--no-epochs'],
      2,
      "Unknown option --no-epochs for 'noisynn train' (did you mean --epochs?); see noisynn train --help",
    ],
    [['train', 'extra'], 2, "Unexpected argument 'extra' for 'noisynn train'; see noisynn train --help"],
    [['train', '--model', 'vit_huge'], 2, "Expected one of 'vit_tiny_patch16_224',"],
    [['train', '--noise', 'none', '--noise-strength', '0.3'], 2, '--noise none takes no other --noise-* option'],
    [['train', '--dataset', 'mnist'], 2, '--root is required for --dataset mnist'],
    [
      ['train', '--dataset', 'imagefolder', '--root', '/nonexistent-noisynn'],
      2,
      '--dataset imagefolder expects /nonexistent-noisynn to hold a train/ folder of class subfolders',
    ],
    [
      ['train', '--root', '/nonexistent-noisynn'],
      1,
      'Fashion-MNIST train images not found: looked for train-images-idx3-ubyte and train-images-idx3-ubyte.gz in /nonexistent-noisynn',
    ],
    [
      ['train', '--model', 'resnet18', '--epochs', '1'],
      1,
      "Model resnet18 takes 3-channel images but the dataset's have 1 channel (shape [1, 28, 28])",
    ],
    [
      ['train', '--model', 'vit_mini_patch4_32', '--dataset', 'fashion-mnist'],
      1,
      'Model vit_mini_patch4_32 takes 3-channel images',
    ],
    [
      ['train', '--resume', '/nonexistent-noisynn'],
      2,
      'Cannot resume: /nonexistent-noisynn/config.json not found (is /nonexistent-noisynn a run folder of noisynn train?)',
    ],
    [['eval'], 2, 'Missing required option --weights (a safetensors file or a train run folder)'],
    [
      ['eval', '--weights', '/nonexistent-noisynn.safetensors'],
      2,
      '--weights /nonexistent-noisynn.safetensors: file not found',
    ],
    [
      ['audit', '--weights', '/tmp', '--samples', '-3'],
      2,
      "Expected non-negative integer for --samples but received '-3'",
    ],
    [
      ['eval', '--order', 'sorted', '--weights', 'x'],
      2,
      "Expected one of 'shuffle', 'sequential', 'classSorted' for --order but received 'sorted'",
    ],
    [
      ['compare', '--kinds', 'none,pink'],
      2,
      "Expected a comma-separated list of 'none', 'linear', 'optimal', 'gaussian', 'saltPepper' for --kinds but received 'none,pink'",
    ],
    [['compare', '--kinds', 'none,none'], 2, "Expected a list without repeats for --kinds but received 'none,none'"],
    [
      ['compare', '--seeds', '0'],
      2,
      "Expected a seed count between 1 and 1000, or a comma-separated list of seeds for --seeds but received '0'",
    ],
    [['compare', '--seeds', '1,1'], 2, "Expected seeds without repeats for --seeds but received '1,1'"],
    [
      ['compare', '--seeds', '1,x'],
      2,
      "Expected a seed count, or a comma-separated list of non-negative integer seeds for --seeds but received '1,x'",
    ],
    [
      ['compare', '--noise-strength', 'linear=x'],
      2,
      "Expected KIND=VALUE pairs (KIND one of none, linear, optimal, gaussian, saltPepper; VALUE >= 0, at most 1 for saltPepper) for --noise-strength but received 'linear=x'",
    ],
    [
      ['compare', '--noise-strength', 'saltPepper=2'],
      2,
      "Expected KIND=VALUE pairs (KIND one of none, linear, optimal, gaussian, saltPepper; VALUE >= 0, at most 1 for saltPepper) for --noise-strength but received 'saltPepper=2'",
    ],
    [
      ['compare', '--family', 'cnn', '--model', 'vit_mini_patch4_28'],
      2,
      '--model vit_mini_patch4_28 is a vit model but --family is cnn',
    ],
    [['compare', '--family', 'rnn'], 2, "Expected one of 'vit', 'cnn' for --family but received 'rnn'"],
    [['compare', '--resume', '/nonexistent-noisynn'], 2, 'Cannot resume: /nonexistent-noisynn/config.json not found'],
    [['models', '--family'], 2, 'Missing value for --family'],
    [
      ['fit'],
      2,
      "Unknown command 'fit'; expected a command: info, models, train, eval, compare, audit (see noisynn --help)",
    ],
    [
      ['--epochs', '3'],
      2,
      "Unknown option '--epochs'; expected a command: info, models, train, eval, compare, audit (see noisynn --help)",
    ],
  ];

  test.each(cases)('noisynn %j exits %i', async (argv, status, message) => {
    const r = await cli(argv);
    expect(r.stderr).toContain(`noisynn: ${message}`);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.status).toBe(status);
    expect(r.stdout).toBe('');
  });

  test('a run folder is never overwritten by accident', async () => {
    const dir = path.join(tmp, 'taken');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), '{"command":"train","options":{}}');
    const r = await cli(['train', '--out', dir, '--epochs', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `noisynn: ${dir} already holds a run; continue it with --resume ${dir}, or choose another --out\n`,
    );
    const other = await cli(['compare', '--resume', dir]);
    expect(other.stderr).toBe(`noisynn: Cannot resume: ${dir} is a run of noisynn train, not noisynn compare\n`);
  });

  test('parseArgs: --name=value, --no-flag, -o, --, last value wins', () => {
    const spec = {
      name: 't',
      summary: '',
      positionals: '<file>',
      options: [
        { name: 'epochs', type: 'positiveInteger' as const, description: '', default: 5 },
        { name: 'audit', type: 'boolean' as const, description: '', default: true },
        { name: 'out', short: 'o', type: 'string' as const, description: '' },
      ],
    };
    const p = parseArgs(['--epochs=2', '--no-audit', '-o', 'dir', '--epochs', '3', 'a', '--', '--b'], spec);
    expect(p.options).toEqual({ epochs: 3, audit: false, out: 'dir' });
    expect(p.positionals).toEqual(['a', '--b']);
    expect([...p.given].sort()).toEqual(['audit', 'epochs', 'out']);
    expect(parseArgs([], spec).options).toEqual({ epochs: 5, audit: true });
    expect(() => parseArgs(['--no-audit=1'], spec)).toThrow(new UsageError('Option --no-audit takes no value'));
    expect(() => parseArgs(['-x'], spec)).toThrow("Unknown option -x for 'noisynn t'; see noisynn t --help");
  });
});

describe('--noise presets on the model they apply to', () => {
  test("'official' expands to the family's official noise; on a ResNet-18 it is noise-free and says why", () => {
    expect(noiseFromOptions({ noise: 'official' }, 'default', 'vit_mini_patch4_28')).toBe('official');
    expect(noiseFromOptions({ noise: 'official', seed: 3 }, 'default', 'vit_mini_patch4_28')).toEqual({
      kind: 'optimal',
      axis: 'batch',
      site: 'attention',
      when: 'eval',
      layer: -1,
      seed: 3,
    });
    expect(noiseFromOptions({ noise: 'official', seed: 3 }, 'default', 'resnet50')).toEqual({
      kind: 'linear',
      strength: 0.4,
      axis: 'batch',
      detach: true,
      when: 'always',
      layer: { stage: 4, block: 2 },
      seed: 3,
    });
    expect(noiseFromOptions({ noise: 'official', seed: 3 }, 'default', 'resnet18_small_28')).toBe('official');
    expect(() => noiseFromOptions({ noise: 'official', noiseStrength: 0.5 }, 'default', 'resnet18_small_28')).toThrow(
      new UsageError(
        "--noise official on resnet18_small_28: the official CNN code noises block index 2 of layer4, and this ResNet's layer4 has 2 blocks: the 'official' preset is noise-free here, as the official code is; it takes no other --noise-* option",
      ),
    );
    const r18 = createModel('resnet18_small_28', { noise: 'official' });
    expect(describeNoise(r18.noise)).toMatch(/^none \(the official CNN code noises block index 2 of layer4/);
    r18.dispose();
  });
});

describe('train, eval and audit on a small Fashion-MNIST subset', () => {
  let runDir: string;

  beforeAll(async () => {
    runDir = path.join(tmp, 'train-run');
    const r = await cli([
      'train',
      '--epochs',
      '1',
      '--train-samples',
      '512',
      '--test-samples',
      '256',
      '--batch-size',
      '64',
      '--noise',
      'linear',
      '--out',
      runDir,
    ]);
    if (r.status !== 0) throw new Error(`train failed: ${r.stderr}`);
    expect(r.stdout).toMatch(/^test top-1 \d+\.\d\d% · top-5 \d+\.\d\d% · loss \d\.\d{4} · 256 images/);
    expect(r.stdout).toContain('run folder: ');
    expect(r.stderr).toContain(
      'training vit_mini_patch4_28 (205,066 parameters, noise linear 0.3 along the batch axis while training) on 512 images for 1 epoch',
    );
    expect(r.stderr).toMatch(/^epoch 1\/1 loss \d\.\d{4} acc \d+\.\d% · val loss/m); // one line per epoch off a TTY
  });

  test('the run folder holds config, metrics, checkpoints, weights, plot and report', () => {
    for (const f of [
      'config.json',
      'metrics.jsonl',
      'model.safetensors',
      'results.json',
      'curves.svg',
      'report.html',
      'checkpoints/checkpoint.json',
    ]) {
      expect(fs.existsSync(path.join(runDir, f))).toBe(true);
    }
    const lines = fs
      .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines.filter((l) => l.type === 'step')).toHaveLength(8);
    expect(lines.filter((l) => l.type === 'epoch')).toHaveLength(1);
    const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
    expect(config.model).toMatchObject({
      name: 'vit_mini_patch4_28',
      parameters: 205066,
      noise: { kind: 'linear', when: 'train' },
    });
    expect(config.options).toMatchObject({ epochs: 1, trainSamples: 512, noise: 'linear', seed: 1 });
    const results = JSON.parse(fs.readFileSync(path.join(runDir, 'results.json'), 'utf8'));
    expect(results.test.samples).toBe(256);
    expect(fs.readFileSync(path.join(runDir, 'curves.svg'), 'utf8')).toContain('data-series="validation"');
    expect(fs.readFileSync(path.join(runDir, 'report.html'), 'utf8')).toContain('Test top-1 <b>');
  });

  test('eval scores the weights of a run folder, in text and JSON', async () => {
    const r = await cli(['eval', '--weights', runDir, '--samples', '256', '-q']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      /^top-1 \d+\.\d\d% · top-5 \d+\.\d\d% · loss \d\.\d{4} · 256 images \(test split, shuffled batches of 64\)\n$/,
    );
    expect(r.stderr).toBe('');
    const j = JSON.parse(
      (await cli(['eval', '--weights', path.join(runDir, 'model.safetensors'), '--samples', '256', '--json', '-q']))
        .stdout,
    );
    expect(j).toMatchObject({
      model: 'vit_mini_patch4_28',
      samples: 256,
      order: 'shuffle',
      noise: { kind: 'optimal', when: 'train' },
    });
    // The JSON figure is the text one, a whole number of the 256 images.
    expect(`${(100 * j.top1).toFixed(2)}%`).toBe(/^top-1 (\d+\.\d\d%)/.exec(r.stdout)![1]);
    expect(Math.abs(j.top1 * 256 - Math.round(j.top1 * 256))).toBeLessThan(1e-9);
  });

  test("eval --noise official reads the official protocol's test batches: class-sorted, 10 for a ViT", async () => {
    const j = JSON.parse(
      (await cli(['eval', '--weights', runDir, '--samples', '128', '--noise', 'official', '--json', '-q'])).stdout,
    );
    expect(j).toMatchObject({ order: 'classSorted', batchSize: 10, noise: { kind: 'optimal', when: 'eval' } });
    const given = JSON.parse(
      (
        await cli([
          'eval',
          '--weights',
          runDir,
          '--samples',
          '128',
          '--noise',
          'official',
          '--order',
          'shuffle',
          '--batch-size',
          '32',
          '--json',
          '-q',
        ])
      ).stdout,
    );
    expect(given).toMatchObject({ order: 'shuffle', batchSize: 32 });
  });

  test('audit runs the three evaluations under the official noise', async () => {
    const r = await cli(['audit', '--weights', runDir, '--samples', '128', '--json', '-q']);
    expect(r.status).toBe(0);
    const a = JSON.parse(r.stdout);
    expect(a.noise).toMatchObject({ kind: 'optimal', when: 'eval' });
    expect(a.samples).toBe(128);
    expect(a.batchSize).toBe(10); // the official ViT protocol's test batches
    expect(typeof a.leakSuspected).toBe('boolean');
    expect(a.tests.map((t: { measures: string }) => t.measures)).toEqual(['leak', 'noiseEffect', 'noiseEffect']);
    expect(a.leak).toMatchObject({ pair: 'sorted-shuffled', alternative: 'greater', n: 128 });
    const text = await cli(['audit', '--weights', runDir, '--samples', '64', '--noise', 'none', '-q']);
    expect(text.stdout).toContain('top-1 on 64 images:');
    expect(text.stdout).toMatch(/class-sorted batches of 10\s+\d+\.\d\d%/);
    expect(text.stdout).toContain(
      'leak (class-sorted − shuffled, same noise): +0.00 points (95% CI +0.00 to +0.00 points; b = 0, c = 0; one-sided exact binomial p = 1.0)',
    );
    expect(text.stdout).toMatch(/smallest leak this test detects \(80% power, alpha 0\.001\): \d+\.\d\d points/);
    expect(text.stdout).toContain("noise's own effect (batch size 1 switches batch-axis noise off; not a leak):");
    expect(text.stdout).toContain('no leak detected at alpha 0.001'); // no noise at evaluation cannot leak
    const wider = await cli(['audit', '--weights', runDir, '--samples', '64', '--batch-size', '32', '--json', '-q']);
    expect(JSON.parse(wider.stdout).batchSize).toBe(32);
    // The verdict is stated once.
    expect(text.stdout).not.toMatch(/leak detected: No leak detected/i);
  });

  test('--resume continues the run from its checkpoint with more epochs', async () => {
    const r = await cli(['train', '--resume', runDir, '--epochs', '2', '-q']);
    expect(r.status).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(runDir, 'results.json'), 'utf8'));
    expect(results).toMatchObject({ epochs: 2, resumedFrom: 1, aborted: false });
    expect(results.history).toHaveLength(2);
    const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
    expect(config.options).toMatchObject({ epochs: 2, trainSamples: 512, noise: 'linear' }); // saved options kept, --epochs overridden
  });
});

describe('other datasets', () => {
  test('mnist from --root; eval finds the dataset and model in the run folder', async () => {
    const root = path.join(tmp, 'mnist');
    writeMnist(root, { n: 64, h: 28, w: 28, gzip: true, seed: 3 });
    const out = path.join(tmp, 'mnist-run');
    const r = await cli([
      'train',
      '--dataset',
      'mnist',
      '--root',
      root,
      '--epochs',
      '1',
      '--batch-size',
      '32',
      '--noise',
      'none',
      '-q',
      '--out',
      out,
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^test top-1 \d+\.\d\d% .* 64 images/);
    const e = await cli(['eval', '--weights', out, '-q', '--json']);
    expect(e.status).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ model: 'vit_mini_patch4_28', samples: 64 });
  });

  test('imagefolder: train/ and val/ class folders, resized to the model', async () => {
    const root = path.join(tmp, 'folder');
    let k = 0;
    for (const split of ['train', 'val']) {
      for (const cls of ['cat', 'dog']) {
        fs.mkdirSync(path.join(root, split, cls), { recursive: true });
        for (let i = 0; i < 3; i++) {
          const raw = Buffer.alloc(40 * 48 * 3, (k++ * 37) % 256);
          await sharp(raw, { raw: { width: 48, height: 40, channels: 3 } })
            .png()
            .toFile(path.join(root, split, cls, `${i}.png`));
        }
      }
    }
    const out = path.join(tmp, 'folder-run');
    const r = await cli([
      'train',
      '--dataset',
      'imagefolder',
      '--root',
      root,
      '--model',
      'vit_mini_patch4_32',
      '--epochs',
      '1',
      '-q',
      '--json',
      '--out',
      out,
    ]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).test).toMatchObject({ samples: 6 });
    const config = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(config.model).toMatchObject({ name: 'vit_mini_patch4_32' });
    expect(config.data).toMatchObject({ dataset: 'imagefolder', train: 6, test: 6 });
  });
});

describe('the real executable', () => {
  const cliJs = path.join(ROOT, 'dist', 'cli.js');

  beforeAll(() => {
    // Rebuild dist/ when a lib/ source is newer (npm test builds it in scripts/setup.sh).
    const newest = (dir: string): number =>
      Math.max(
        ...fs
          .readdirSync(dir, { withFileTypes: true })
          .map((e) => (e.isDirectory() ? newest(path.join(dir, e.name)) : fs.statSync(path.join(dir, e.name)).mtimeMs)),
      );
    if (!fs.existsSync(cliJs) || fs.statSync(cliJs).mtimeMs < newest(path.join(ROOT, 'lib'))) {
      const tsc = spawnSync(
        process.execPath,
        [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.json')],
        { encoding: 'utf8' },
      );
      if (tsc.status !== 0) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
    }
  });

  test('dist/cli.js starts with a shebang and prints help', () => {
    expect(fs.readFileSync(cliJs, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const r = spawnSync(process.execPath, [cliJs, 'models'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('vit_mini_patch4_28');
  });

  test('a bad option exits 2 with one line on stderr', () => {
    const r = spawnSync(process.execPath, [cliJs, 'train', '--epochs', 'x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("noisynn: Expected positive integer for --epochs but received 'x'\n");
    expect(r.stdout).toBe('');
  });
});

describe('refused before a run folder exists', () => {
  test('--mixed-precision on a CPU is a usage error (status 2) and leaves no run folder', async () => {
    const out = path.join(tmp, 'mixed-precision-run');
    const r = await cli(['train', '--mixed-precision', '--device', 'cpu', '--epochs', '1', '-q', '--out', out]);
    expect(r).toEqual({
      status: 2,
      stdout: '',
      stderr: 'noisynn: --mixed-precision (bf16 autocast) needs a CUDA device, but this run is on cpu\n',
    });
    expect(fs.existsSync(out)).toBe(false);
  });

  test('an --out that is a file is a usage error; one that cannot be created is named', async () => {
    const file = path.join(tmp, 'out-is-a-file');
    fs.writeFileSync(file, '');
    expect(await cli(['train', '--epochs', '1', '-q', '--out', file])).toEqual({
      status: 2,
      stdout: '',
      stderr: `noisynn: --out ${file} is a file, not a folder; choose another --out\n`,
    });
    const r = await cli([
      'train',
      '--epochs',
      '1',
      '--train-samples',
      '64',
      '--test-samples',
      '64',
      '-q',
      '--out',
      '/proc/noisynn-run',
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^noisynn: Cannot write --out \/proc\/noisynn-run: ENOENT/);
  });
});
