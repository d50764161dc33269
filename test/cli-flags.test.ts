// The training flags of `noisynn train` that had no test: --noise-site, --noise-detach,
// --clip-grad-norm, --mixed-precision (a usage error on a CPU machine) and --augment. Each run
// is one epoch on 128 Fashion-MNIST images, and config.json and the step log are read back.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../lib/cli';
import { info } from '../lib';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-cli-flags-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function train(flags: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const dir = path.join(tmp, `run-${fs.readdirSync(tmp).length}`);
  const argv = ['train', '--epochs', '1', '--train-samples', '128', '--test-samples', '64', '--batch-size', '64'];
  const status = await main([...argv, ...flags, '--out', dir, '-q'], {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s), isTTY: false },
    cwd: tmp,
  });
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  const steps = () =>
    fs
      .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'step');
  return { status, stdout: out.join(''), stderr: err.join(''), read, steps, dir };
}

describe('noisynn train flags', () => {
  test('--noise-site block and --noise-detach reach the model', async () => {
    const r = await train(['--noise', 'linear', '--noise-site', 'block', '--noise-detach']);
    expect(r.status).toBe(0);
    expect(r.read('config.json').model.noise).toMatchObject({ kind: 'linear', site: 'block', detach: true });
    const plain = await train(['--noise', 'linear']);
    expect(plain.read('config.json').model.noise).toMatchObject({ kind: 'linear', site: 'attention', detach: false });
  });

  test('--clip-grad-norm sets the trainer option and the step log carries the norm before clipping', async () => {
    const r = await train(['--clip-grad-norm', '0.001']);
    expect(r.status).toBe(0);
    expect(r.read('config.json').trainer.clipGradNorm).toBe(0.001);
    const steps = r.steps();
    expect(steps).toHaveLength(2);
    for (const s of steps) expect(s.gradNorm).toBeGreaterThan(0.001);
    const off = await train([]);
    for (const s of off.steps()) expect(s.gradNorm).toBe(0);
  });

  (info().cuda ? test.skip : test)('--mixed-precision on a CPU machine is a usage error (exit 2)', async () => {
    const r = await train(['--mixed-precision']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'noisynn: --mixed-precision (bf16 autocast) needs a CUDA device, but this run is on cpu\n',
    );
    expect(fs.existsSync(path.join(r.dir, 'config.json'))).toBe(false); // refused before the run folder
  });

  test('--augment adds the random crop and flip to the training transforms only', async () => {
    const r = await train(['--augment']);
    expect(r.status).toBe(0);
    expect(r.read('config.json').data.transforms).toEqual(['randomCrop', 'horizontalFlip', 'normalize']);
    const plain = await train([]);
    expect(plain.read('config.json').data.transforms).toEqual(['normalize']);
    // Same seed, different inputs: the augmented run's first loss differs.
    expect(r.steps()[0].loss).not.toBe(plain.steps()[0].loss);
  });
});
