// Fashion-MNIST and MNIST: the IDX file format (gzip or raw), found in Debian's package or torchvision's layout.
import * as fs from 'fs';
import * as path from 'path';
import { binding, NativeDataset } from '../binding';
import { expectKnownKeys, expectNonEmptyString, expectOneOf, expectOptions, typeError } from '../validate';
import { Dataset, Split, SPLITS } from './dataset';

export interface MNISTOptions {
  /** 'train' (default) or 'test'. */
  split?: Split;
  /** Folder holding the four IDX files (gzip or raw), or torchvision's root with <Name>/raw inside. */
  root?: string;
}

/** The folder Debian's dataset-fashion-mnist package installs to: FashionMNIST's default root. */
export const FASHION_MNIST_ROOT = '/usr/share/datasets/fashion-mnist';

interface IdxKind {
  title: string;
  torchvisionName: string;
  classes: readonly string[];
  howToGet: string;
}

function findFile(dirs: readonly string[], base: string): string | null {
  for (const dir of dirs) {
    for (const name of [base, `${base}.gz`]) {
      const p = path.join(dir, name);
      if (fs.existsSync(p) && fs.statSync(p).isFile()) return p;
    }
  }
  return null;
}

/** Shared by MNIST and FashionMNIST: the same IDX layout and file names. */
abstract class IdxDataset extends Dataset {
  readonly length: number;
  readonly classes: readonly string[];
  readonly imageShape: readonly [number, number, number];
  /** The split read. */
  readonly split: Split;
  /** The image and label files found. */
  readonly files: { readonly images: string; readonly labels: string };

  protected constructor(kind: IdxKind, options: unknown, defaultRoot: string | undefined) {
    super();
    const o = expectOptions(options);
    expectKnownKeys(o, 'options', ['split', 'root']);
    this.split = o.split === undefined ? 'train' : expectOneOf(o.split, 'split', SPLITS);
    if (o.root === undefined && defaultRoot === undefined)
      throw typeError('root', 'non-empty string (the folder holding the IDX files)', o.root);
    const root = path.resolve(o.root === undefined ? (defaultRoot as string) : expectNonEmptyString(o.root, 'root'));
    const dirs = [root, path.join(root, kind.torchvisionName, 'raw')];
    const prefix = this.split === 'train' ? 'train' : 't10k';
    const find = (what: 'images' | 'labels', base: string): string => {
      const found = findFile(dirs, base);
      if (found === null) {
        throw new Error(
          `${kind.title} ${this.split} ${what} not found: looked for ${base} and ${base}.gz in ${dirs.join(' and ')}. ${kind.howToGet}`,
        );
      }
      return found;
    };
    this.files = {
      images: find('images', `${prefix}-images-idx3-ubyte`),
      labels: find('labels', `${prefix}-labels-idx1-ubyte`),
    };
    const images = binding.readIdxHeader(this.files.images);
    const labels = binding.readIdxHeader(this.files.labels);
    if (images.dims.length !== 3) {
      throw new Error(
        `${this.files.images}: expected an IDX image file with 3 dimensions (count, rows, columns) but it has ${images.dims.length}`,
      );
    }
    if (labels.dims.length !== 1) {
      throw new Error(
        `${this.files.labels}: expected an IDX label file with 1 dimension (count) but it has ${labels.dims.length}`,
      );
    }
    if (labels.dims[0] !== images.dims[0]) {
      throw new Error(
        `${this.files.labels}: holds ${labels.dims[0]} labels but ${this.files.images} holds ${images.dims[0]} images`,
      );
    }
    this.length = images.dims[0];
    this.imageShape = [1, images.dims[1], images.dims[2]];
    this.classes = kind.classes;
  }

  /** @internal */
  protected loadNative(): Promise<NativeDataset> {
    return binding.loadIdx(this.files.images, this.files.labels, this.classes.length);
  }
}

const FASHION_MNIST: IdxKind = {
  title: 'Fashion-MNIST',
  torchvisionName: 'FashionMNIST',
  classes: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  howToGet:
    "Install Debian's package (sudo apt-get install dataset-fashion-mnist, which puts them in /usr/share/datasets/fashion-mnist) " +
    'or download them from https://github.com/zalandoresearch/fashion-mnist and pass root: the folder holding them.',
};

const MNIST_KIND: IdxKind = {
  title: 'MNIST',
  torchvisionName: 'MNIST',
  classes: [
    '0 - zero',
    '1 - one',
    '2 - two',
    '3 - three',
    '4 - four',
    '5 - five',
    '6 - six',
    '7 - seven',
    '8 - eight',
    '9 - nine',
  ],
  howToGet:
    'Download the four IDX files (train-images-idx3-ubyte.gz, ...) from https://yann.lecun.com/exdb/mnist/ or a mirror and pass root: the folder holding them.',
};

/**
 * Fashion-MNIST: 28x28 grayscale images of 10 clothing classes, 60000 train and 10000 test.
 * Reads Debian's dataset-fashion-mnist package by default.
 *
 * @param options `split` ('train' default, or 'test'); `root` (default /usr/share/datasets/fashion-mnist),
 *   a folder with the IDX files, gzip or raw, or torchvision's root (with FashionMNIST/raw inside).
 * @throws Error naming the paths looked at, and how to get the data, when the files are missing.
 * @example
 * const train = new FashionMNIST({ split: 'train' });
 * train.length; // 60000
 */
export class FashionMNIST extends IdxDataset {
  constructor(options?: MNISTOptions) {
    super(FASHION_MNIST, options, FASHION_MNIST_ROOT);
  }
}

/**
 * MNIST: 28x28 grayscale digits, 60000 train and 10000 test.
 *
 * @param options `root` (required): a folder with the IDX files (gzip or raw), or torchvision's root
 *   (with MNIST/raw inside); `split` ('train' default, or 'test').
 * @example
 * const test = new MNIST({ root: '/data/mnist', split: 'test' });
 */
export class MNIST extends IdxDataset {
  constructor(options: MNISTOptions) {
    super(MNIST_KIND, options, undefined);
  }
}
