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
  /**
   * root/<class>/**\/*.{jpg,jpeg,png}: one subfolder per class, classes sorted by name (code
   * points, as torchvision sorts them). Symlinks are followed; names starting with '.' are skipped.
   */
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

/**
 * Code-point order, as Python sorts str (and so torchvision sorts classes and files). JavaScript's
 * `<` compares UTF-16 code units instead, which puts an astral character (an emoji, say) before
 * U+E000..U+FFFF (fullwidth forms, say): class indices would then differ from torchvision's.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    // A surrogate starts a code point above U+FFFF: above every unit that is not one.
    if (sx !== sy) return sx ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** The folder `p` leads to (following symlinks), or null for a dangling or unreadable entry. */
function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/**
 * The images under a class folder in torchvision's order (`sorted(os.walk(..., followlinks=True))`,
 * then sorted file names): folder by folder in path order, each folder's files by name. Symlinks
 * are followed, as torchvision does; a link back to a folder on the current path (a loop) and a
 * dangling link are skipped. Names starting with '.' are skipped (torchvision keeps them, and
 * with them macOS '._x.jpg' files and '.ipynb_checkpoints' folders).
 */
function listImages(classDir: string): string[] {
  const folders: { dir: string; files: string[] }[] = [];
  const visit = (dir: string, onPath: ReadonlySet<string>): void => {
    const real = fs.realpathSync(dir);
    if (onPath.has(real)) return;
    const inner = new Set(onPath).add(real);
    const files: string[] = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const name = entry.name;
      if (name.startsWith('.')) continue;
      const p = path.join(dir, name);
      // The entry's own type, without a stat per file; a symlink is resolved (null: dangling).
      const st = entry.isSymbolicLink() ? statOrNull(p) : entry;
      if (st === null) continue;
      if (st.isDirectory()) visit(p, inner);
      else if (st.isFile() && IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase())) files.push(p);
    }
    folders.push({ dir, files: files.sort(compareCodePoints) });
  };
  visit(classDir, new Set());
  folders.sort((a, b) => compareCodePoints(a.dir, b.dir));
  // A loop, not push(...files): spreading a folder of ~100k files overflows the call stack.
  const out: string[] = [];
  for (const f of folders) for (const file of f.files) out.push(file);
  return out;
}

/**
 * Images in class subfolders (root/<class>/<image>.jpg), decoded with sharp off the JS thread,
 * resized to `imageSize` and kept in native memory as uint8. Classes are the subfolder names in
 * sorted order; images are taken as torchvision takes them: folder by folder in sorted path
 * order (subfolders included), each folder's files sorted by name. Symlinks are followed
 * (loops and dangling links skipped); names starting with '.' are skipped.
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
      .filter((e) => !e.name.startsWith('.'))
      .filter((e) => (e.isSymbolicLink() ? statOrNull(path.join(root, e.name)) : e)?.isDirectory() === true)
      .map((e) => e.name)
      .sort(compareCodePoints);
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
