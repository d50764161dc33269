// ImageFolder: JPEG and PNG images in class subfolders, decoded and resized with sharp.
import * as fs from 'fs';
import * as path from 'path';
import { binding, NativeDataset } from '../binding';
import {
  expectKnownKeys,
  expectNonEmptyString,
  expectOneOf,
  expectOptions,
  expectPositiveInteger,
  rangeError,
  typeError,
} from '../validate';
import { expectImageSide } from '../transforms';
import { Dataset } from './dataset';

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
  /**
   * What `load()` does with an image it cannot read (empty, truncated, not an image):
   * 'throw' (default) rejects, naming the file; 'skip' leaves it out with a process warning,
   * lists it in `skipped`, and `length` and `samples` shrink to the images kept.
   */
  onError?: 'throw' | 'skip';
}

/** An image ImageFolder left out (`onError: 'skip'`) and why. */
export interface SkippedImage {
  readonly path: string;
  readonly reason: string;
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);

function listImages(dir: string): string[] {
  const out: string[] = [];
  const entries = fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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
 *   `load()` rejects naming the file when an image is empty or cannot be decoded (unless
 *   `onError: 'skip'`).
 * @example
 * const ds = new ImageFolder({ root: '/data/imagenette/train', imageSize: 64 });
 * await ds.load();
 */
export class ImageFolder extends Dataset {
  readonly classes: readonly string[];
  readonly imageShape: readonly [number, number, number];
  readonly #root: string;
  readonly #fit: 'cover' | 'fill';
  readonly #concurrency: number;
  readonly #onError: 'throw' | 'skip';
  #samples: readonly { readonly path: string; readonly label: number }[];
  #skipped: readonly SkippedImage[] = [];

  constructor(options: ImageFolderOptions) {
    super();
    const o = expectOptions(options);
    expectKnownKeys(o, 'options', ['root', 'imageSize', 'channels', 'fit', 'concurrency', 'onError']);
    const root = path.resolve(expectNonEmptyString(o.root, 'root'));
    let size: [number, number];
    if (typeof o.imageSize === 'number') size = [expectImageSide(o.imageSize, 'imageSize'), o.imageSize];
    else if (Array.isArray(o.imageSize) && o.imageSize.length === 2) {
      size = [expectImageSide(o.imageSize[0], 'imageSize[0]'), expectImageSide(o.imageSize[1], 'imageSize[1]')];
    } else if (Array.isArray(o.imageSize))
      throw rangeError('imageSize', 'positive integer or [height, width]', o.imageSize);
    else throw typeError('imageSize', 'positive integer or [height, width]', o.imageSize);
    let channels = 3;
    if (o.channels !== undefined) {
      if (typeof o.channels !== 'number') throw typeError('channels', '1 or 3', o.channels);
      if (o.channels !== 1 && o.channels !== 3) throw rangeError('channels', '1 or 3', o.channels);
      channels = o.channels;
    }
    this.#fit = o.fit === undefined ? 'cover' : expectOneOf(o.fit, 'fit', ['cover', 'fill'] as const);
    this.#concurrency = o.concurrency === undefined ? 8 : expectPositiveInteger(o.concurrency, 'concurrency');
    this.#onError = o.onError === undefined ? 'throw' : expectOneOf(o.onError, 'onError', ['throw', 'skip'] as const);

    if (!fs.existsSync(root) || !fs.statSync(root).isDirectory())
      throw new Error(`ImageFolder root ${root} does not exist or is not a folder`);
    const classes = fs
      .readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (classes.length === 0)
      throw new Error(`ImageFolder found no class folders in ${root} (expected ${root}/<class>/<image>.jpg)`);
    const samples: { path: string; label: number }[] = [];
    classes.forEach((name, label) => {
      const files = listImages(path.join(root, name));
      if (files.length === 0)
        throw new Error(`ImageFolder found no .jpg, .jpeg or .png files in class folder ${path.join(root, name)}`);
      for (const file of files) samples.push({ path: file, label });
    });
    this.classes = classes;
    this.#root = root;
    this.#samples = samples;
    this.imageShape = [channels, size[0], size[1]];
  }

  /** Number of images (after load() with onError 'skip': those that could be read). */
  get length(): number {
    return this.#samples.length;
  }

  /** Every image file and its label, in dataset order. */
  get samples(): readonly { readonly path: string; readonly label: number }[] {
    return this.#samples;
  }

  /** The images load() left out with onError 'skip', and why; empty before load(). */
  get skipped(): readonly SkippedImage[] {
    return this.#skipped;
  }

  /** @internal */
  protected async loadNative(): Promise<NativeDataset> {
    // sharp is loaded on first use only: the other datasets do not need it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sharp = require('sharp') as typeof import('sharp');
    const [c, h, w] = this.imageShape;
    const per = c * h * w;
    const all = this.#samples;
    const pixels = new Uint8Array(per * all.length);
    const failed: (SkippedImage & { index: number })[] = [];
    const decode = async (file: string): Promise<Buffer> => {
      if (fs.statSync(file).size === 0) throw new Error(`ImageFolder: ${file} is empty (0 bytes)`);
      let data: Buffer;
      let info: { width: number; height: number; channels: number };
      try {
        let img = sharp(file, { failOn: 'error' }).resize(w, h, { fit: this.#fit });
        img = c === 1 ? img.greyscale() : img.toColourspace('srgb');
        ({ data, info } = await img.removeAlpha().raw().toBuffer({ resolveWithObject: true }));
      } catch (err) {
        // libvips reports some truncated files only as 'Unknown error'.
        const message = (err as Error).message;
        const why = /^\s*(unknown error)?\s*$/i.test(message)
          ? `the file is truncated or corrupt (sharp: ${message || 'no message'})`
          : message;
        throw new Error(`ImageFolder could not decode ${file}: ${why}`);
      }
      if (info.width !== w || info.height !== h || info.channels !== c) {
        throw new Error(
          `ImageFolder decoded ${file} to ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x${c}`,
        );
      }
      return data;
    };
    let next = 0;
    const decodeNext = async (): Promise<void> => {
      while (next < all.length) {
        const i = next++;
        try {
          pixels.set(await decode(all[i].path), i * per);
        } catch (err) {
          if (this.#onError === 'throw') throw err;
          failed.push({ index: i, path: all[i].path, reason: (err as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, all.length) }, decodeNext));
    if (failed.length === 0) {
      const labels = Int32Array.from(all, (s) => s.label);
      return binding.datasetFromPixels(pixels, [all.length, h, w, c], labels, this.classes.length);
    }
    return this.#withoutFailed(pixels, failed);
  }

  // onError 'skip': the dataset of the images that were read, with a warning about the others.
  #withoutFailed(pixels: Uint8Array, failed: (SkippedImage & { index: number })[]): Promise<NativeDataset> {
    const [c, h, w] = this.imageShape;
    const per = c * h * w;
    const all = this.#samples;
    failed.sort((a, b) => a.index - b.index);
    if (failed.length === all.length) {
      throw new Error(
        `ImageFolder could read none of the ${all.length} images under ${this.#root} (first: ${failed[0].reason})`,
      );
    }
    const bad = new Set(failed.map((f) => f.index));
    const kept = all.filter((_, i) => !bad.has(i));
    const packed = new Uint8Array(per * kept.length);
    let k = 0;
    all.forEach((_, i) => {
      if (!bad.has(i)) packed.set(pixels.subarray(i * per, (i + 1) * per), per * k++);
    });
    this.#samples = kept;
    this.#skipped = failed.map(({ path: p, reason }) => ({ path: p, reason }));
    process.emitWarning(
      `ImageFolder skipped ${failed.length} of ${all.length} images under ${this.#root} that could not be read ` +
        `(first: ${failed[0].reason}); the dataset's skipped property lists them`,
      { code: 'NOISYNN_IMAGES_SKIPPED' },
    );
    const labels = Int32Array.from(kept, (s) => s.label);
    return binding.datasetFromPixels(packed, [kept.length, h, w, c], labels, this.classes.length);
  }
}
