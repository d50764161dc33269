// CIFAR-10 and CIFAR-100, binary version: fixed-size records in one or more .bin files.
import * as fs from 'fs';
import * as path from 'path';
import { binding, NativeCifarFormat, NativeDataset } from '../binding';
import { expectKnownKeys, expectNonEmptyString, expectOneOf, expectOptions } from '../validate';
import { Dataset, Split, SPLITS } from './dataset';

export interface CIFAR10Options {
  /** The folder containing cifar-10-batches-bin (or that folder itself). */
  root: string;
  /** 'train' (default) or 'test'. */
  split?: Split;
}

export interface CIFAR100Options {
  /** The folder containing cifar-100-binary (or that folder itself). */
  root: string;
  /** 'train' (default) or 'test'. */
  split?: Split;
  /** 'fine' (default, 100 classes) or 'coarse' (20 superclasses). */
  labels?: 'fine' | 'coarse';
}

interface CifarLayout {
  title: string;
  folder: string;
  files: readonly string[];
  format: NativeCifarFormat;
  namesFile: string;
  defaultClasses: readonly string[];
}

function readClassNames(file: string, expected: number, fallback: readonly string[]): readonly string[] {
  if (!fs.existsSync(file)) return fallback;
  const names = fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length !== expected) {
    throw new Error(`${file}: expected ${expected} class names, one per line, but found ${names.length}`);
  }
  return names;
}

abstract class CifarDataset extends Dataset {
  readonly length: number;
  readonly classes: readonly string[];
  readonly imageShape: readonly [number, number, number] = [3, 32, 32];
  /** The split read. */
  readonly split: Split;
  /** The binary files read, in order. */
  readonly files: readonly string[];
  readonly #format: NativeCifarFormat;

  protected constructor(layout: CifarLayout, root: string, split: Split) {
    super();
    this.split = split;
    const abs = path.resolve(root);
    const dirs = [path.join(abs, layout.folder), abs];
    const dir = dirs.find((d) => fs.existsSync(path.join(d, layout.files[0])));
    if (dir === undefined) {
      throw new Error(
        `${layout.title} ${split} files not found: looked for ${layout.files[0]} in ${dirs.join(' and ')}. ` +
          `Download the binary version from https://www.cs.toronto.edu/~kriz/cifar.html, extract it, and pass root: the folder that contains ${layout.folder}.`,
      );
    }
    this.files = layout.files.map((f) => {
      const p = path.join(dir, f);
      if (!fs.existsSync(p)) throw new Error(`${layout.title} ${split} file missing: ${p} (an incomplete extraction?)`);
      return p;
    });
    this.#format = layout.format;
    this.length = this.files.reduce((n, f) => n + binding.cifarRecordCount(f, layout.format), 0);
    this.classes = readClassNames(path.join(dir, layout.namesFile), layout.format.numClasses, layout.defaultClasses);
  }

  /** @internal */
  protected loadNative(): Promise<NativeDataset> {
    return binding.loadCifar([...this.files], this.#format);
  }
}

const numbered = (n: number): string[] => Array.from({ length: n }, (_, i) => String(i));

/**
 * CIFAR-10, binary version: 32x32 RGB images of 10 classes, 50000 train (data_batch_1..5.bin)
 * and 10000 test (test_batch.bin). Class names from batches.meta.txt.
 *
 * @param options `root` (required): the folder containing cifar-10-batches-bin; `split` ('train' default, or 'test').
 * @throws Error naming the folder looked at when the files are missing, or the file whose size is
 *   not a whole number of records.
 * @example
 * const train = new CIFAR10({ root: '/data' });
 */
export class CIFAR10 extends CifarDataset {
  constructor(options: CIFAR10Options) {
    const o = expectOptions(options);
    expectKnownKeys(o, 'options', ['root', 'split']);
    const root = expectNonEmptyString(o.root, 'root');
    const split = o.split === undefined ? 'train' : expectOneOf(o.split, 'split', SPLITS);
    super(
      {
        title: 'CIFAR-10',
        folder: 'cifar-10-batches-bin',
        files: split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'],
        format: { labelBytes: 1, labelIndex: 0, numClasses: 10 },
        namesFile: 'batches.meta.txt',
        defaultClasses: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
      },
      root,
      split,
    );
  }
}

/**
 * CIFAR-100, binary version: 32x32 RGB images, 50000 train (train.bin) and 10000 test (test.bin),
 * labelled with 100 fine classes or 20 coarse superclasses. Names from fine_label_names.txt /
 * coarse_label_names.txt (or '0', '1', ... when absent).
 *
 * @param options `root` (required): the folder containing cifar-100-binary; `split` ('train' default,
 *   or 'test'); `labels` ('fine' default, or 'coarse').
 * @example
 * const test = new CIFAR100({ root: '/data', split: 'test' });
 */
export class CIFAR100 extends CifarDataset {
  constructor(options: CIFAR100Options) {
    const o = expectOptions(options);
    expectKnownKeys(o, 'options', ['root', 'split', 'labels']);
    const root = expectNonEmptyString(o.root, 'root');
    const split = o.split === undefined ? 'train' : expectOneOf(o.split, 'split', SPLITS);
    const fine =
      (o.labels === undefined ? 'fine' : expectOneOf(o.labels, 'labels', ['fine', 'coarse'] as const)) === 'fine';
    super(
      {
        title: 'CIFAR-100',
        folder: 'cifar-100-binary',
        files: [split === 'train' ? 'train.bin' : 'test.bin'],
        // Each record starts with the coarse label, then the fine one.
        format: { labelBytes: 2, labelIndex: fine ? 1 : 0, numClasses: fine ? 100 : 20 },
        namesFile: fine ? 'fine_label_names.txt' : 'coarse_label_names.txt',
        defaultClasses: numbered(fine ? 100 : 20),
      },
      root,
      split,
    );
  }
}
