// The shipped .d.ts: stripInternal keeps the internals out, and what remains type-checks for a
// consumer without skipLibCheck (so nothing public refers to a stripped declaration).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
jest.setTimeout(120_000);

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-dts-'));
  const build = spawnSync(
    process.execPath,
    [TSC, '-p', path.join(ROOT, 'tsconfig.json'), '--emitDeclarationOnly', '--outDir', path.join(tmp, 'dist')],
    { encoding: 'utf8' },
  );
  if (build.status !== 0) throw new Error(`tsc failed: ${build.stdout}${build.stderr}`);
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function declarations(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? declarations(p) : e.name.endsWith('.d.ts') ? [p] : [];
  });
}

test('no @internal member reaches the .d.ts files', () => {
  const files = declarations(path.join(tmp, 'dist'));
  expect(files.length).toBeGreaterThan(20);
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    expect({
      file,
      internals: text.match(/@internal|\b_(handle|build|evaluate|fit|native|fromHandle|arch|checkShape)\b|loadNative/g),
    }).toEqual({ file, internals: null });
  }
});

test('a consumer type-checks against them without skipLibCheck', () => {
  fs.writeFileSync(
    path.join(tmp, 'consumer.ts'),
    `import * as nn from './dist';
    const model: nn.NoisyViT = nn.NoisyViT.create('vit_mini_patch4_28');
    const trainer = new nn.Trainer(model, { optimizer: { betas: [0.9, 0.95] } });
    const betas: readonly [number, number] = trainer.options.optimizer.betas;
    const options: nn.ResolvedTrainerOptions = trainer.options;
    void betas, options;\n`,
  );
  fs.writeFileSync(
    path.join(tmp, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: 'ES2022',
        module: 'commonjs',
        lib: ['ES2022'],
        types: ['node'],
        typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      },
      files: ['consumer.ts'],
    }),
  );
  const check = spawnSync(process.execPath, [TSC, '-p', tmp], { encoding: 'utf8' });
  expect(check.stdout + check.stderr).toBe('');
  expect(check.status).toBe(0);
});
