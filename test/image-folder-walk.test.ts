// The ImageFolder walk against random folder trees: tricky names, symlinks (to files, to folders,
// dangling, in loops), empty folders and files where folders are expected. The expected classes
// and samples come from the tree (test/helpers/folder-trees.ts), not from the file system.
// NOISYNN_FUZZ_RUNS=N runs N trees instead of 300 (npm run fuzz -- image_folder does).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImageFolder } from '../lib';
import { compareCodePoints } from '../lib/datasets/image-folder';
import { expectedWalk, randomTree, writeTree } from './helpers/folder-trees';
import { rng } from './helpers/random';

const runs = Number(process.env.NOISYNN_FUZZ_RUNS ?? 300);
const seed = Number(process.env.NOISYNN_FUZZ_SEED ?? 12);
jest.setTimeout(Math.max(120_000, runs * 20));

// tmpfs when there is one: a tree is written and walked per run.
const base = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'noisynn-walk-'));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

describe('the ImageFolder walk', () => {
  test(`finds what ${runs} random trees hold (seed ${seed})`, () => {
    const r = rng(seed);
    let loaded = 0;
    for (let run = 0; run < runs; run++) {
      const tree = randomTree(r);
      const root = path.join(base, String(run));
      writeTree(root, tree);
      const want = expectedWalk(tree);
      let got: { classes: string[]; samples: [string, number][] } | { error: string };
      try {
        const ds = new ImageFolder({ root, imageSize: 4 });
        got = {
          classes: [...ds.classes],
          samples: ds.samples.map((s) => [path.relative(root, s.path), s.label] as [string, number]),
        };
        expect(ds.length).toBe(ds.samples.length);
        loaded++;
      } catch (err) {
        got = { error: (err as Error).message };
      }
      if ('error' in want) {
        // The message names the root or the class folder; the oracle knows only which error.
        expect('error' in got ? got.error : JSON.stringify(got)).toContain(want.error);
      } else {
        expect(got).toEqual(want);
      }
      fs.rmSync(root, { recursive: true, force: true });
    }
    // The trees are not all errors: most runs load.
    if (runs >= 100) expect(loaded).toBeGreaterThan(runs / 4);
    console.log(`image-folder walk: ${runs} trees, ${loaded} loaded, the rest refused as expected`);
  });

  test('classes and files sort by code point, as Python (torchvision) sorts them', () => {
    // UTF-16 units put the cat (U+1F431) before the fullwidth '!' (U+FF01); code points do not.
    expect(['\u{1F431}', '\uff01', 'a'].sort(compareCodePoints)).toEqual(['a', '\uff01', '\u{1F431}']);
    expect(compareCodePoints('b', 'b.jpg')).toBeLessThan(0);
    expect(compareCodePoints('same', 'same')).toBe(0);
  });

  test('a folder of 30,000 files lists on a 100 KB stack (the old walk overflowed it)', () => {
    // The walk once spread each folder's list into push(...files): a RangeError past ~125k files
    // on Node's default stack, past ~15k on this one.
    const root = path.join(base, 'many');
    const dir = path.join(root, 'only', 'sub');
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < 30_000; i++) fs.writeFileSync(path.join(dir, `${i}.png`), '');
    const lib = path.resolve(__dirname, '..', 'dist');
    const out = execFileSync(
      process.execPath,
      [
        '--stack-size=100',
        '-e',
        `console.log(new (require(${JSON.stringify(lib)}).ImageFolder)({ root: ${JSON.stringify(root)}, imageSize: 4 }).length)`,
      ],
      { encoding: 'utf8' },
    );
    expect(out.trim()).toBe('30000');
    fs.rmSync(root, { recursive: true, force: true });
  });
});
