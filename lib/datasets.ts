// Datasets: Fashion-MNIST, MNIST, CIFAR-10/100, ImageFolder and TensorDataset, held in native memory.
//
// Constructors are synchronous and cheap: they validate options, find the files and read their
// headers (so `length`, `classes` and `imageShape` are known at once, and a missing or mislabelled
// file fails right there). The pixels are read off the JS thread on first use: `load()`, `get()`,
// or the first pass of a DataLoader.
import * as fs from 'fs';
import * as path from 'path';
import { binding, NativeCifarFormat, NativeDataset } from './binding';
import { Tensor, handleOf } from './tensor';
import {
  describe,
  expectInteger,
  expectKnownKeys,
  expectNonEmptyString,
  expectOneOf,
  expectOptions,
  expectPositiveInteger,
  rangeError,
  typeError,
} from './validate';

/** One sample: the image as stored (uint8 [C, H, W], or float32 for a float TensorDataset) and its label. */
export interface Sample {
  image: Tensor;
  label: number;
}

export type Split = 'train' | 'test';
const SPLITS: readonly Split[] = ['train', 'test'];

/**
 * What every dataset offers; DataLoader reads any of them.
 * Subclasses supply `length`, `classes`, `imageShape` and the native load.
 */
export abstract class Dataset {
  #loading: Promise<NativeDataset> | null = null;

  /** Number of samples. */
  abstract readonly length: number;
  /** Class names; label i names classes[i]. */
  abstract readonly classes: readonly string[];
  /** Shape of one stored image, [channels, height, width]. */
  abstract readonly imageShape: readonly [number, number, number];

  /** @internal Reads the data into native memory (off the JS thread). */
  protected abstract loadNative(): Promise<NativeDataset>;

  /**
   * Reads the samples into native memory, once; later calls return at once. Not needed before
   * `get()` or a DataLoader pass (they load on demand), but useful to surface file errors early.
   * @throws Error naming the file when one is truncated or corrupt (a failed load may be retried).
   */
  async load(): Promise<this> {
    await this._native();
    return this;
  }

  /**
   * Sample `index` as stored, before any transform.
   * @throws RangeError when `index` is not an integer in [0, length).
   * @example
   * const { image, label } = await new FashionMNIST().get(0); // image: uint8 [1, 28, 28]
   */
  async get(index: number): Promise<Sample> {
    if (this.length === 0) throw new RangeError(`Cannot get index ${describe(index)} of an empty dataset`);
    expectInteger(index, 'index', 0, this.length - 1);
    const native = await this._native();
    const s = native.get(index);
    return { image: Tensor._fromHandle(s.image), label: s.label };
  }

  /** Every label, int64 [length] (a copy). */
  async labels(): Promise<Tensor> {
    return Tensor._fromHandle((await this._native()).labels());
  }

  /** @internal The native dataset, loading it on first use. */
  _native(): Promise<NativeDataset> {
    if (this.#loading === null) {
      const loading = this.loadNative();
      this.#loading = loading;
      // A failed load is forgotten, so a later call retries (the caller sees this rejection).
      loading.catch(() => {
        if (this.#loading === loading) this.#loading = null;
      });
    }
    return this.#loading;
  }
}

// ---------------------------------------------------------------------------------------------
// MNIST format (IDX files)
// ---------------------------------------------------------------------------------------------

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
    if (o.root === undefined && defaultRoot === undefined) throw typeError('root', 'non-empty string (the folder holding the IDX files)', o.root);
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
    this.files = { images: find('images', `${prefix}-images-idx3-ubyte`), labels: find('labels', `${prefix}-labels-idx1-ubyte`) };
    const images = binding.readIdxHeader(this.files.images);
    const labels = binding.readIdxHeader(this.files.labels);
    if (images.dims.length !== 3) {
      throw new Error(`${this.files.images}: expected an IDX image file with 3 dimensions (count, rows, columns) but it has ${images.dims.length}`);
    }
    if (labels.dims.length !== 1) {
      throw new Error(`${this.files.labels}: expected an IDX label file with 1 dimension (count) but it has ${labels.dims.length}`);
    }
    if (labels.dims[0] !== images.dims[0]) {
      throw new Error(`${this.files.labels}: holds ${labels.dims[0]} labels but ${this.files.images} holds ${images.dims[0]} images`);
    }
    this.length = images.dims[0];
    this.imageShape = [1, images.dims[1], images.dims[2]];
    this.classes = kind.classes;
  }

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
  classes: ['0 - zero', '1 - one', '2 - two', '3 - three', '4 - four', '5 - five', '6 - six', '7 - seven', '8 - eight', '9 - nine'],
  howToGet: 'Download the four IDX files (train-images-idx3-ubyte.gz, ...) from https://yann.lecun.com/exdb/mnist/ or a mirror and pass root: the folder holding them.',
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

// ---------------------------------------------------------------------------------------------
// CIFAR (binary version)
// ---------------------------------------------------------------------------------------------

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
    const fine = (o.labels === undefined ? 'fine' : expectOneOf(o.labels, 'labels', ['fine', 'coarse'] as const)) === 'fine';
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

// ---------------------------------------------------------------------------------------------
// ImageFolder
// ---------------------------------------------------------------------------------------------

export interface ImageFolderOptions {
  /** root/<class>/**\/*.{jpg,jpeg,png}: one subfolder per class, classes sorted by name. */
  root: string;
  /** Every image is resized to this at decode time: a number for a square, or [height, width]. */
  imageSize: number | readonly [number, number];
  /** 3 (RGB, default) or 1 (grayscale). */
  channels?: 1 | 3;
  /**
   * 'cover' (default): scale to cover imageSize keeping the aspect ratio, then centre-crop;
   * 'fill': stretch to imageSize.
   */
  fit?: 'cover' | 'fill';
  /** Images decoded at once (sharp runs them on its own threads). Default 8. */
  concurrency?: number;
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);

function listImages(dir: string): string[] {
  const out: string[] = [];
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listImages(p));
    else if (e.isFile() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())) out.push(p);
  }
  return out;
}

/**
 * Images in class subfolders (root/<class>/<image>.jpg), decoded with sharp off the JS thread,
 * resized to `imageSize` and kept in native memory as uint8. Classes are the subfolder names in
 * sorted order; images are taken in sorted path order (subfolders included), like torchvision.
 *
 * @throws Error when root is missing, has no class folders, or a class folder has no images;
 *   `load()` rejects naming the file when an image cannot be decoded.
 * @example
 * const ds = new ImageFolder({ root: '/data/imagenette/train', imageSize: 64 });
 * await ds.load();
 */
export class ImageFolder extends Dataset {
  readonly length: number;
  readonly classes: readonly string[];
  readonly imageShape: readonly [number, number, number];
  /** Every image file and its label, in dataset order. */
  readonly samples: readonly { readonly path: string; readonly label: number }[];
  readonly #fit: 'cover' | 'fill';
  readonly #concurrency: number;

  constructor(options: ImageFolderOptions) {
    super();
    const o = expectOptions(options);
    expectKnownKeys(o, 'options', ['root', 'imageSize', 'channels', 'fit', 'concurrency']);
    const root = path.resolve(expectNonEmptyString(o.root, 'root'));
    let size: [number, number];
    if (typeof o.imageSize === 'number') size = [expectPositiveInteger(o.imageSize, 'imageSize'), o.imageSize];
    else if (Array.isArray(o.imageSize) && o.imageSize.length === 2) {
      size = [expectPositiveInteger(o.imageSize[0], 'imageSize[0]'), expectPositiveInteger(o.imageSize[1], 'imageSize[1]')];
    } else if (Array.isArray(o.imageSize)) throw rangeError('imageSize', 'positive integer or [height, width]', o.imageSize);
    else throw typeError('imageSize', 'positive integer or [height, width]', o.imageSize);
    let channels = 3;
    if (o.channels !== undefined) {
      if (typeof o.channels !== 'number') throw typeError('channels', '1 or 3', o.channels);
      if (o.channels !== 1 && o.channels !== 3) throw rangeError('channels', '1 or 3', o.channels);
      channels = o.channels;
    }
    this.#fit = o.fit === undefined ? 'cover' : expectOneOf(o.fit, 'fit', ['cover', 'fill'] as const);
    this.#concurrency = o.concurrency === undefined ? 8 : expectPositiveInteger(o.concurrency, 'concurrency');

    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new Error(`ImageFolder root ${root} does not exist or is not a folder`);
    const classes = fs
      .readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (classes.length === 0) throw new Error(`ImageFolder found no class folders in ${root} (expected ${root}/<class>/<image>.jpg)`);
    const samples: { path: string; label: number }[] = [];
    classes.forEach((name, label) => {
      const files = listImages(path.join(root, name));
      if (files.length === 0) throw new Error(`ImageFolder found no .jpg, .jpeg or .png files in class folder ${path.join(root, name)}`);
      for (const file of files) samples.push({ path: file, label });
    });
    this.classes = classes;
    this.samples = samples;
    this.length = samples.length;
    this.imageShape = [channels, size[0], size[1]];
  }

  protected async loadNative(): Promise<NativeDataset> {
    // sharp is loaded on first use only: the other datasets do not need it.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const sharp = require('sharp') as typeof import('sharp');
    const [c, h, w] = this.imageShape;
    const per = c * h * w;
    const pixels = new Uint8Array(per * this.length);
    const labels = Int32Array.from(this.samples, (s) => s.label);
    let next = 0;
    const decodeNext = async (): Promise<void> => {
      while (next < this.samples.length) {
        const i = next++;
        const file = this.samples[i].path;
        let data: Buffer;
        let info: { width: number; height: number; channels: number };
        try {
          let img = sharp(file, { failOn: 'error' }).resize(w, h, { fit: this.#fit });
          img = c === 1 ? img.greyscale() : img.toColourspace('srgb');
          ({ data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true }));
        } catch (err) {
          throw new Error(`ImageFolder could not decode ${file}: ${(err as Error).message}`);
        }
        if (info.width !== w || info.height !== h || info.channels !== c) {
          throw new Error(`ImageFolder decoded ${file} to ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x${c}`);
        }
        pixels.set(data, i * per);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, this.length) }, decodeNext));
    return binding.datasetFromPixels(pixels, [this.length, h, w, c], labels, this.classes.length);
  }
}

// ---------------------------------------------------------------------------------------------
// TensorDataset
// ---------------------------------------------------------------------------------------------

export interface TensorDatasetOptions {
  /**
   * The images: a Tensor (uint8 or float32) [N, C, H, W] or [N, H, W], or a Uint8Array /
   * Float32Array with `shape`. uint8 pixels are scaled to [0, 1] by the loader; float32 values
   * are used as they are.
   */
  images: Tensor | Uint8Array | Float32Array;
  /** The images' shape, [N, C, H, W] or [N, H, W] (required for a typed array). */
  shape?: readonly number[];
  /** One integer label per image, in [0, classes.length). */
  labels: Tensor | Int32Array | BigInt64Array | Uint8Array | readonly number[];
  /** Class names. Default: '0', '1', ... up to the largest label. */
  classes?: readonly string[];
}

/**
 * Samples from arrays already in memory (copied into native memory at construction).
 *
 * @throws TypeError / RangeError for mismatched shapes, non-integer or out-of-range labels.
 * @example
 * const ds = new TensorDataset({ images: new Uint8Array(4 * 28 * 28), shape: [4, 28, 28], labels: [0, 1, 2, 1] });
 */
export class TensorDataset extends Dataset {
  readonly length: number;
  readonly classes: readonly string[];
  readonly imageShape: readonly [number, number, number];
  readonly #native: NativeDataset;

  constructor(options: TensorDatasetOptions) {
    super();
    const o = expectOptions(options);
    expectKnownKeys(o, 'options', ['images', 'shape', 'labels', 'classes']);
    let images: Tensor;
    if (o.images instanceof Tensor) {
      if (o.shape !== undefined) throw new RangeError('shape is taken from the images Tensor; leave shape out');
      images = o.images;
    } else if (o.images instanceof Uint8Array || o.images instanceof Float32Array) {
      if (o.shape === undefined) throw typeError('shape', 'array [N, C, H, W] or [N, H, W] (required with a typed array)', o.shape);
      if (!Array.isArray(o.shape)) throw typeError('shape', 'array [N, C, H, W] or [N, H, W]', o.shape);
      images = Tensor.fromTypedArray(o.images, o.shape);
    } else {
      throw typeError('images', 'Tensor, Uint8Array or Float32Array', o.images);
    }
    let shape = images.shape;
    if (images.dtype !== 'uint8' && images.dtype !== 'float32') {
      throw new TypeError(`Expected uint8 or float32 images but received a ${images.dtype} Tensor`);
    }
    if (shape.length === 3) shape = [shape[0], 1, shape[1], shape[2]];
    if (shape.length !== 4) throw new RangeError(`Expected images of shape [N, C, H, W] or [N, H, W] but received shape [${images.shape.join(', ')}]`);
    if (shape.slice(1).some((d) => d < 1)) throw new RangeError(`Expected non-empty images but received shape [${images.shape.join(', ')}]`);
    const n = shape[0];

    const labels = labelsArray(o.labels, n);
    let max = -1;
    labels.forEach((l) => (max = Math.max(max, l)));
    let classes: readonly string[];
    if (o.classes === undefined) {
      classes = Array.from({ length: Math.max(1, max + 1) }, (_, i) => String(i));
    } else {
      if (!Array.isArray(o.classes) || o.classes.some((c) => typeof c !== 'string')) throw typeError('classes', 'array of strings', o.classes);
      if (o.classes.length === 0) throw rangeError('classes', 'non-empty array of strings', o.classes);
      classes = [...(o.classes as string[])];
      const bad = labels.findIndex((l) => l >= classes.length);
      if (bad >= 0) throw new RangeError(`Expected labels below ${classes.length} (the number of classes) but labels[${bad}] is ${labels[bad]}`);
    }
    const labelTensor = Tensor.fromTypedArray(BigInt64Array.from(labels, (l) => BigInt(l)), [n]);
    // The addon copies both (and reads [N, H, W] as one channel).
    this.#native = binding.datasetFromTensors(handleOf(images, 'images'), handleOf(labelTensor, 'labels'), classes.length);
    labelTensor.dispose();
    if (images !== o.images) images.dispose();
    this.length = n;
    this.classes = classes;
    this.imageShape = [shape[1], shape[2], shape[3]];
  }

  protected loadNative(): Promise<NativeDataset> {
    return Promise.resolve(this.#native);
  }
}

/** The labels as numbers, checked to be non-negative safe integers, one per image. */
function labelsArray(value: unknown, n: number): number[] {
  let list: number[];
  if (value instanceof Tensor) {
    if (value.shape.length !== 1) throw new RangeError(`Expected labels of shape [${n}] but received shape [${value.shape.join(', ')}]`);
    list = Array.from(value.toTypedArray() as ArrayLike<number | bigint>, (v) => Number(v));
  } else if (value instanceof Int32Array || value instanceof Uint8Array) {
    list = Array.from(value);
  } else if (value instanceof BigInt64Array) {
    list = Array.from(value, (v) => Number(v));
  } else if (Array.isArray(value)) {
    list = value as number[];
  } else {
    throw typeError('labels', 'Tensor, Int32Array, BigInt64Array, Uint8Array or array of integers', value);
  }
  if (list.length !== n) throw new RangeError(`Expected ${n} labels (one per image) but received ${list.length}`);
  list.forEach((l, i) => {
    if (typeof l !== 'number') throw typeError(`labels[${i}]`, 'non-negative integer', l);
    if (!Number.isSafeInteger(l) || l < 0) throw rangeError(`labels[${i}]`, 'non-negative integer', l);
  });
  return list;
}
