// Datasets and the DataLoader: real Fashion-MNIST, generated MNIST/CIFAR/ImageFolder fixtures,
// exactly-once epochs, determinism across worker counts, transforms against JS references,
// corrupt files and bad options with their messages.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import sharp from 'sharp';
import {
  CIFAR10,
  CIFAR100,
  Batch,
  DataLoader,
  DataLoaderOptions,
  Dataset,
  FashionMNIST,
  ImageFolder,
  MNIST,
  Tensor,
  TensorDataset,
  info,
  transforms as T,
} from '../lib';
import { bytes, cifarBuffer, idxBuffer, writeMnist } from './helpers/datafiles';
import { CUDA_UNAVAILABLE } from './helpers/cuda';

const FMNIST = '/usr/share/datasets/fashion-mnist';
let tmp = '';

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-data-'));
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function dir(name: string): string {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function ints(t: Tensor): number[] {
  return Array.from(t.toTypedArray() as BigInt64Array, (v) => Number(v));
}

function floats(t: Tensor): Float32Array {
  return t.toTypedArray() as Float32Array;
}

/** Everything one pass yields: indices and labels in order, a hash of all image bytes, batch sizes. */
async function pass(
  loader: DataLoader,
): Promise<{ indices: number[]; labels: number[]; hash: string; sizes: number[] }> {
  const h = createHash('sha256');
  const indices: number[] = [];
  const labels: number[] = [];
  const sizes: number[] = [];
  for await (const b of loader) {
    const f = floats(b.images);
    h.update(new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
    indices.push(...ints(b.indices));
    labels.push(...ints(b.labels));
    sizes.push(b.images.shape[0]);
    b.images.dispose();
    b.labels.dispose();
    b.indices.dispose();
  }
  return { indices, labels, hash: h.digest('hex'), sizes };
}

function counts(labels: number[], k: number): number[] {
  const c = new Array<number>(k).fill(0);
  for (const l of labels) c[l] += 1;
  return c;
}

/** Like expect(fn).toThrow(error), but the class must match too (jest compares messages only). */
function expectError(fn: () => unknown): { toThrow(expected: Error): void } {
  return {
    toThrow(expected: Error): void {
      let thrown: unknown = null;
      try {
        fn();
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(expected.constructor);
      expect((thrown as Error).message).toBe(expected.message);
    },
  };
}

const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------------------------------------

describe('Fashion-MNIST (Debian dataset-fashion-mnist)', () => {
  const train = new FashionMNIST({ split: 'train' });
  const testSet = new FashionMNIST({ split: 'test' });

  test('has the documented sizes, classes and balance', async () => {
    expect(train.length).toBe(60000);
    expect(testSet.length).toBe(10000);
    expect(train.imageShape).toEqual([1, 28, 28]);
    expect(train.classes).toEqual([
      'T-shirt/top',
      'Trouser',
      'Pullover',
      'Dress',
      'Coat',
      'Sandal',
      'Shirt',
      'Sneaker',
      'Bag',
      'Ankle boot',
    ]);
    expect(train.files.images).toBe(path.join(FMNIST, 'train-images-idx3-ubyte.gz'));
    expect(new FashionMNIST().split).toBe('train');
    expect(counts(ints(await train.labels()), 10)).toEqual(new Array(10).fill(6000));
    expect(counts(ints(await testSet.labels()), 10)).toEqual(new Array(10).fill(1000));
  });

  test('reads the pinned first images', async () => {
    const h = createHash('sha256');
    const labels: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { image, label } = await train.get(i);
      expect(image.shape).toEqual([1, 28, 28]);
      expect(image.dtype).toBe('uint8');
      h.update(image.toTypedArray() as Uint8Array);
      labels.push(label);
    }
    expect(labels).toEqual([9, 0, 0, 3, 0, 2, 7, 2]);
    expect(h.digest('hex')).toBe('8a6fbd6eff9f489549edbf60bd50c26e12f0c5551542f37a433fa879a7b283d5');
    const first = await testSet.get(0);
    expect(first.label).toBe(9);
    expect(
      createHash('sha256')
        .update(first.image.toTypedArray() as Uint8Array)
        .digest('hex'),
    ).toBe('ffc7351ed0f8bae542820866086177fa4e0b366b97bf9d998dffdb8dbe138787');
  });

  test('an augmented epoch visits every sample exactly once, in batches of 128', async () => {
    const loader = new DataLoader(train, {
      batchSize: 128,
      seed: 7,
      transforms: [T.randomCrop(28, { padding: 4 }), T.horizontalFlip(), T.normalize('fashion-mnist')],
    });
    expect(loader.length).toBe(469);
    expect(loader.sampleShape).toEqual([1, 28, 28]);
    const r = await pass(loader);
    expect(r.sizes.length).toBe(469);
    expect(r.sizes.slice(0, -1).every((s) => s === 128)).toBe(true);
    expect(r.sizes[468]).toBe(60000 - 468 * 128);
    expect(sorted(r.indices)).toEqual(range(60000));
    expect(r.indices.slice(0, 20)).not.toEqual(range(20));
    expect(counts(r.labels, 10)).toEqual(new Array(10).fill(6000));
  });

  test('gives identical batches, augmentations included, whatever numWorkers', async () => {
    const options = (numWorkers: number): DataLoaderOptions => ({
      batchSize: 100,
      seed: 12345,
      numWorkers,
      transforms: [T.randomCrop(24, { padding: 2 }), T.horizontalFlip(), T.resize(32), T.normalize('fashion-mnist')],
    });
    const results = [];
    for (const workers of [1, 2, 3, 0]) {
      const loader = new DataLoader(testSet, options(workers));
      loader.setEpoch(3);
      results.push(await pass(loader));
    }
    for (const r of results.slice(1)) {
      expect(r.indices).toEqual(results[0].indices);
      expect(r.hash).toBe(results[0].hash);
    }
    // Another seed or another epoch changes both the order and the augmentations.
    const other = new DataLoader(testSet, { ...options(2), seed: 12346 });
    other.setEpoch(3);
    const o = await pass(other);
    expect(o.indices).not.toEqual(results[0].indices);
    expect(o.hash).not.toBe(results[0].hash);
  });

  test('normalize fuses (x / 255 - mean) / std, exactly as the JS formula', async () => {
    const loader = new DataLoader(testSet, {
      batchSize: 4,
      order: 'sequential',
      transforms: [T.normalize('fashion-mnist')],
    });
    for await (const b of loader) {
      const out = floats(b.images);
      expect(b.images.shape).toEqual([4, 1, 28, 28]);
      expect(b.images.dtype).toBe('float32');
      expect(b.labels.dtype).toBe('int64');
      for (let i = 0; i < 4; i++) {
        const px = (await testSet.get(i)).image.toTypedArray() as Uint8Array;
        for (let j = 0; j < px.length; j++) {
          expect(Math.abs(out[i * 784 + j] - (px[j] / 255 - 0.286) / 0.353)).toBeLessThan(1e-5);
        }
      }
      break;
    }
  });

  test("'classSorted' groups by label, dataset order within a class", async () => {
    const loader = new DataLoader(testSet, { batchSize: 50, order: 'classSorted', numWorkers: 2 });
    const r = await pass(loader);
    expect(r.labels).toEqual(sorted(r.labels));
    expect(sorted(r.indices)).toEqual(range(10000));
    for (let i = 1; i < r.indices.length; i++) {
      if (r.labels[i] === r.labels[i - 1]) expect(r.indices[i]).toBeGreaterThan(r.indices[i - 1]);
    }
    // 1000 per class and batches of 50: every batch holds a single class (the leak the audit shows).
    expect(counts(r.labels.slice(0, 50), 10).filter((c) => c > 0).length).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('DataLoader passes', () => {
  // 23 small images with the label i % 5 and pixel values that identify the sample.
  const n = 23;
  const pixels = Uint8Array.from({ length: n * 2 * 3 }, (_, i) => (i * 11) % 256);
  const labels = Array.from({ length: n }, (_, i) => i % 5);
  const ds = new TensorDataset({ images: pixels, shape: [n, 2, 3], labels });

  test('sequential order, short last batch, dropLast', async () => {
    const seq = new DataLoader(ds, { batchSize: 5, order: 'sequential' });
    expect(seq.length).toBe(5);
    const r = await pass(seq);
    expect(r.indices).toEqual(range(n));
    expect(r.labels).toEqual(labels);
    expect(r.sizes).toEqual([5, 5, 5, 5, 3]);
    const drop = new DataLoader(ds, { batchSize: 5, order: 'sequential', dropLast: true });
    expect(drop.length).toBe(4);
    const d = await pass(drop);
    expect(d.sizes).toEqual([5, 5, 5, 5]);
    expect(d.indices).toEqual(range(20));
    expect(new DataLoader(ds, { batchSize: 100, dropLast: true }).length).toBe(0);
    expect((await pass(new DataLoader(ds, { batchSize: 100, dropLast: true }))).sizes).toEqual([]);
  });

  test('without transforms, images are the pixels / 255', async () => {
    for await (const b of new DataLoader(ds, { batchSize: n, order: 'sequential' })) {
      expect(b.images.shape).toEqual([n, 1, 2, 3]);
      const f = floats(b.images);
      pixels.forEach((p, i) => expect(f[i]).toBeCloseTo(p / 255, 6));
    }
  });

  test('each pass advances the epoch; setEpoch replays one', async () => {
    const loader = new DataLoader(ds, { batchSize: 4, seed: 99 });
    expect(loader.epoch).toBe(0);
    const e0 = await pass(loader);
    expect(loader.epoch).toBe(1);
    const e1 = await pass(loader);
    expect(e1.indices).not.toEqual(e0.indices);
    expect(sorted(e1.indices)).toEqual(range(n));
    loader.setEpoch(0);
    expect((await pass(loader)).indices).toEqual(e0.indices);
    // A fresh loader with the same seed gives the same first epoch.
    expect((await pass(new DataLoader(ds, { batchSize: 4, seed: 99n }))).indices).toEqual(e0.indices);
    // The replay advanced the epoch to 1 again.
    const batch = (await loader[Symbol.asyncIterator]().next()).value as Batch;
    expect(batch.epoch).toBe(1);
    expect(batch.index).toBe(0);
  });

  test('breaking out stops the pass; a new pass supersedes an unfinished one', async () => {
    const loader = new DataLoader(ds, { batchSize: 2, order: 'sequential', prefetch: 2 });
    for await (const b of loader) {
      expect(ints(b.indices)).toEqual([0, 1]);
      break;
    }
    const first = loader[Symbol.asyncIterator]();
    expect(ints((await first.next()).value!.indices)).toEqual([0, 1]);
    const second = loader[Symbol.asyncIterator]();
    expect(ints((await second.next()).value!.indices)).toEqual([0, 1]);
    await expect(first.next()).rejects.toThrow(
      'this pass over the DataLoader was superseded by a newer one (or stopped)',
    );
    expect(ints((await second.next()).value!.indices)).toEqual([2, 3]);
    await second.return(undefined);
  });

  test('dispose ends the pass in progress and refuses later ones', async () => {
    const loader = new DataLoader(ds, { batchSize: 2, order: 'sequential' });
    const it = loader[Symbol.asyncIterator]();
    expect(ints((await it.next()).value!.indices)).toEqual([0, 1]);
    loader.dispose();
    loader.dispose(); // idempotent
    expect(loader.disposed).toBe(true);
    await expect(it.next()).rejects.toThrow('DataLoader has been disposed');
    await expect(pass(loader)).rejects.toThrow('DataLoader has been disposed');
    // Disposing inside a loop and leaving it is quiet.
    const other = new DataLoader(ds, { batchSize: 2 });
    for await (const b of other) {
      expect(b.images.shape[0]).toBe(2);
      other.dispose();
      break;
    }
    // The dataset is unaffected.
    expect((await pass(new DataLoader(ds, { batchSize: 8 }))).indices.length).toBe(n);
  });

  test('an empty dataset gives empty passes', async () => {
    const empty = new TensorDataset({ images: new Uint8Array(0), shape: [0, 1, 4, 4], labels: [] });
    expect(empty.length).toBe(0);
    const loader = new DataLoader(empty, { batchSize: 3 });
    expect(loader.length).toBe(0);
    expect((await pass(loader)).sizes).toEqual([]);
    await expect(empty.get(0)).rejects.toThrow(new RangeError('Cannot get index 0 (number) of an empty dataset'));
  });

  test('float32 TensorDataset values pass through unscaled', async () => {
    const f = Float32Array.from({ length: 3 * 4 }, (_, i) => i - 5.5);
    const fds = new TensorDataset({
      images: Tensor.fromTypedArray(f, [3, 1, 2, 2]),
      labels: new Int32Array([2, 0, 1]),
      classes: ['a', 'b', 'c'],
    });
    expect(fds.classes).toEqual(['a', 'b', 'c']);
    expect((await fds.get(1)).image.dtype).toBe('float32');
    for await (const b of new DataLoader(fds, {
      batchSize: 3,
      order: 'sequential',
      transforms: [T.normalize({ mean: 1, std: 2 })],
    })) {
      expect(Array.from(floats(b.images))).toEqual(Array.from(f, (v) => (v - 1) / 2));
      expect(ints(b.labels)).toEqual([2, 0, 1]);
    }
  });

  (info().cuda ? test : test.skip)('a CUDA device when there is one', () => {
    expect(new DataLoader(ds, { device: 'cuda' }).device).toBe('cuda');
  });

  (info().cuda ? test.skip : test)('cuda without a GPU is a RangeError', () => {
    expectError(() => new DataLoader(ds, { device: 'cuda' })).toThrow(
      new RangeError(`device 'cuda' requested but ${CUDA_UNAVAILABLE}`),
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('transforms', () => {
  // One 3-channel 5x6 image whose pixel (c, y, x) is 40c + 6y + x + 1 (no zeros, so padding shows).
  const C = 3;
  const H = 5;
  const W = 6;
  const px = (c: number, y: number, x: number): number => 40 * c + 6 * y + x + 1;
  const image = Uint8Array.from({ length: C * H * W }, (_, i) =>
    px(Math.floor(i / (H * W)), Math.floor(i / W) % H, i % W),
  );
  const count = 64;
  const many = new TensorDataset({
    images: Uint8Array.from({ length: count * C * H * W }, (_, i) => image[i % (C * H * W)]),
    shape: [count, C, H, W],
    labels: new Array(count).fill(0),
  });

  async function outputs(ts: DataLoaderOptions['transforms'], seed = 5): Promise<Float32Array[]> {
    const loader = new DataLoader(many, { batchSize: count, order: 'sequential', seed, transforms: ts });
    const out: Float32Array[] = [];
    for await (const b of loader) {
      const f = floats(b.images);
      const per = f.length / count;
      for (let i = 0; i < count; i++) out.push(f.slice(i * per, (i + 1) * per));
    }
    return out;
  }

  test('flips with p = 1 mirror, with p = 0 do nothing, with p = 0.5 about half the time', async () => {
    const [h] = await outputs([T.horizontalFlip(1)]);
    const [v] = await outputs([T.verticalFlip(1)]);
    const [none] = await outputs([T.horizontalFlip(0)]);
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const i = (c * H + y) * W + x;
          expect(h[i] * 255).toBeCloseTo(px(c, y, W - 1 - x), 3);
          expect(v[i] * 255).toBeCloseTo(px(c, H - 1 - y, x), 3);
          expect(none[i] * 255).toBeCloseTo(px(c, y, x), 3);
        }
      }
    }
    const half = await outputs([T.horizontalFlip()]);
    const flipped = half.filter((o) => Math.abs(o[0] * 255 - px(0, 0, W - 1)) < 1e-3).length;
    expect(flipped).toBeGreaterThan(16);
    expect(flipped).toBeLessThan(48);
  });

  test('randomCrop with padding is a zero-padded shift, with offsets covering the whole range', async () => {
    const pad = 2;
    const outs = await outputs([T.randomCrop([4, 5], { padding: pad })]);
    const seen = new Set<string>();
    for (const o of outs) {
      // Find the offset that explains this output.
      let match: string | null = null;
      for (let oy = -pad; oy <= H + pad - 4 && match === null; oy++) {
        for (let ox = -pad; ox <= W + pad - 5 && match === null; ox++) {
          let ok = true;
          for (let c = 0; c < C && ok; c++) {
            for (let y = 0; y < 4 && ok; y++) {
              for (let x = 0; x < 5 && ok; x++) {
                const sy = y + oy;
                const sx = x + ox;
                const want = sy < 0 || sy >= H || sx < 0 || sx >= W ? 0 : px(c, sy, sx);
                ok = Math.abs(o[(c * 4 + y) * 5 + x] * 255 - want) < 1e-3;
              }
            }
          }
          if (ok) match = `${oy},${ox}`;
        }
      }
      expect(match).not.toBeNull();
      seen.add(match!);
    }
    expect(seen.size).toBeGreaterThan(20); // of the 6 x 6 = 36 possible offsets
  });

  test('randomCrop then flip then normalize composes', async () => {
    const outs = await outputs([
      T.randomCrop([H, W], { padding: 1 }),
      T.horizontalFlip(1),
      T.normalize({ mean: [0.5, 0.25, 0], std: [0.5, 0.5, 1] }),
    ]);
    for (const o of outs) {
      // Un-normalize channel 0 and check each row is a mirrored, zero-padded shift of the source.
      const row0 = Array.from({ length: W }, (_, x) => Math.round((o[x] * 0.5 + 0.5) * 255));
      const candidates = [-1, 0, 1].flatMap((oy) =>
        [-1, 0, 1].map((ox) =>
          Array.from({ length: W }, (_, x) => {
            const sy = oy;
            const sx = W - 1 - x + ox;
            return sy < 0 || sx < 0 || sx >= W ? 0 : px(0, sy, sx);
          }),
        ),
      );
      expect(candidates.some((cand) => cand.every((v, i) => v === row0[i]))).toBe(true);
    }
  });

  test('centerCrop follows torchvision offsets and zero-pads when larger', async () => {
    const [crop] = await outputs([T.centerCrop([3, 3])]);
    // torchvision: top = round((5 - 3) / 2) = 1, left = round((6 - 3) / 2) = round(1.5) = 2.
    expect(Array.from(crop.slice(0, 9), (v) => Math.round(v * 255))).toEqual([
      px(0, 1, 2),
      px(0, 1, 3),
      px(0, 1, 4),
      px(0, 2, 2),
      px(0, 2, 3),
      px(0, 2, 4),
      px(0, 3, 2),
      px(0, 3, 3),
      px(0, 3, 4),
    ]);
    const [big] = await outputs([T.centerCrop([7, 8])]);
    // Padding (7 - 5) // 2 = 1 row on top, (8 - 6) // 2 = 1 column on the left.
    const at = (y: number, x: number): number => Math.round(big[y * 8 + x] * 255);
    expect(at(0, 0)).toBe(0);
    expect(at(1, 1)).toBe(px(0, 0, 0));
    expect(at(5, 6)).toBe(px(0, 4, 5));
    expect(at(6, 7)).toBe(0);
  });

  test('resize is bilinear with half-pixel centres (and nearest on request)', async () => {
    const [up] = await outputs([T.resize([10, 12])]);
    // Reference: F.interpolate(mode='bilinear', align_corners=False) on channel 1.
    const ref = (y: number, x: number): number => {
      const coord = (i: number, inSize: number, outSize: number): [number, number, number] => {
        const f = Math.max(0, (i + 0.5) * (inSize / outSize) - 0.5);
        const i0 = Math.min(Math.floor(f), inSize - 1);
        return [i0, Math.min(i0 + 1, inSize - 1), f - i0];
      };
      const [y0, y1, wy] = coord(y, H, 10);
      const [x0, x1, wx] = coord(x, W, 12);
      const top = px(1, y0, x0) * (1 - wx) + px(1, y0, x1) * wx;
      const bottom = px(1, y1, x0) * (1 - wx) + px(1, y1, x1) * wx;
      return top * (1 - wy) + bottom * wy;
    };
    for (let y = 0; y < 10; y++)
      for (let x = 0; x < 12; x++) expect(up[120 + y * 12 + x] * 255).toBeCloseTo(ref(y, x), 2);
    const [near] = await outputs([T.resize([10, 12], { interpolation: 'nearest' })]);
    expect(Math.round(near[3 * 12 + 5] * 255)).toBe(px(0, 1, 2));
    // A single number sets the shorter side and keeps the aspect ratio: 5x6 -> 10x12.
    expect(new DataLoader(many, { transforms: [T.resize(10)] }).sampleShape).toEqual([3, 10, 12]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('MNIST-format fixtures', () => {
  test('raw and gzip IDX files, and torchvision layout, read the same pixels', async () => {
    const raw = dir('mnist-raw');
    const { images, labels } = writeMnist(raw, { n: 30, h: 5, w: 7, gzip: false, seed: 1 });
    const gz = path.join(dir('mnist-gz'), 'MNIST', 'raw');
    writeMnist(gz, { n: 30, h: 5, w: 7, gzip: true, seed: 1 });
    for (const root of [raw, path.join(tmp, 'mnist-gz')]) {
      for (const split of ['train', 'test'] as const) {
        const ds = new MNIST({ root, split });
        expect(ds.length).toBe(30);
        expect(ds.imageShape).toEqual([1, 5, 7]);
        expect(ds.classes[3]).toBe('3 - three');
        const s = await ds.get(29);
        expect(Array.from(s.image.toTypedArray() as Uint8Array)).toEqual(Array.from(images.subarray(29 * 35)));
        expect(s.label).toBe(labels[29]);
        const r = await pass(new DataLoader(ds, { batchSize: 7, order: 'sequential' }));
        expect(r.labels).toEqual(Array.from(labels));
      }
    }
    expect(new FashionMNIST({ root: raw }).length).toBe(30);
  });

  test('missing files name the paths looked at and how to get the data', () => {
    const empty = dir('empty');
    expect(() => new FashionMNIST({ root: empty })).toThrow(
      `Fashion-MNIST train images not found: looked for train-images-idx3-ubyte and train-images-idx3-ubyte.gz in ${empty} and ${empty}/FashionMNIST/raw. ` +
        "Install Debian's package (sudo apt-get install dataset-fashion-mnist, which puts them in /usr/share/datasets/fashion-mnist) " +
        'or download them from https://github.com/zalandoresearch/fashion-mnist and pass root: the folder holding them.',
    );
    expect(() => new MNIST({ root: empty, split: 'test' })).toThrow(
      `MNIST test images not found: looked for t10k-images-idx3-ubyte and t10k-images-idx3-ubyte.gz in ${empty}`,
    );
  });

  describe('corrupt files', () => {
    // A valid pair, then one file replaced by a broken variant.
    function pair(name: string, imagesBuf: Buffer, labelsBuf?: Buffer): string {
      const d = dir(name);
      fs.writeFileSync(path.join(d, 'train-images-idx3-ubyte'), imagesBuf);
      fs.writeFileSync(path.join(d, 'train-labels-idx1-ubyte'), labelsBuf ?? idxBuffer([10], new Uint8Array(10)));
      return d;
    }
    const good = (): Buffer => idxBuffer([10, 5, 7], bytes(350, 3));

    test('bad magic', () => {
      const buf = good();
      buf.writeUInt32BE(0x12345678, 0);
      const d = pair('bad-magic', buf);
      expect(() => new MNIST({ root: d })).toThrow(
        `${d}/train-images-idx3-ubyte: not an IDX file (bad magic number 0x12345678; expected 0x000008NN with NN the number of dimensions, 1 to 4)`,
      );
    });

    test('unsupported element type', () => {
      const d = pair('bad-type', idxBuffer([10, 5, 7], bytes(350, 3), 0x0d));
      expect(() => new MNIST({ root: d })).toThrow(
        `${d}/train-images-idx3-ubyte: unsupported IDX element type 0x0d (image datasets use unsigned bytes, 0x08)`,
      );
    });

    test('truncated raw file', async () => {
      const d = pair('truncated-raw', good().subarray(0, 16 + 100));
      const ds = new MNIST({ root: d }); // the header alone is intact
      await expect(ds.load()).rejects.toThrow(
        `${d}/train-images-idx3-ubyte: truncated: the header declares 10x5x7 = 350 bytes of data but the file holds 100`,
      );
      // A failed load can be retried, and fails the same way; the loader reports it too.
      await expect(pass(new DataLoader(ds))).rejects.toThrow('truncated: the header declares 10x5x7 = 350 bytes');
    });

    test('truncated gzip stream', async () => {
      const d = dir('truncated-gz');
      const z = zlib.gzipSync(good());
      fs.writeFileSync(path.join(d, 'train-images-idx3-ubyte.gz'), z.subarray(0, z.length - 60));
      fs.writeFileSync(path.join(d, 'train-labels-idx1-ubyte.gz'), zlib.gzipSync(idxBuffer([10], new Uint8Array(10))));
      await expect(new MNIST({ root: d }).load()).rejects.toThrow(
        `${d}/train-images-idx3-ubyte.gz: truncated gzip stream (unexpected end of file)`,
      );
    });

    test('corrupt gzip data', async () => {
      const d = dir('corrupt-gz');
      const z = zlib.gzipSync(idxBuffer([10, 5, 7], new Uint8Array(350).fill(7)), { level: 0 });
      // Stored blocks: break the block header that follows the gzip header.
      z[10] = 0xff;
      fs.writeFileSync(path.join(d, 'train-images-idx3-ubyte.gz'), z);
      fs.writeFileSync(path.join(d, 'train-labels-idx1-ubyte'), idxBuffer([10], new Uint8Array(10)));
      expect(() => new MNIST({ root: d })).toThrow(
        `${d}/train-images-idx3-ubyte.gz: corrupt gzip data (invalid block type)`,
      );
    });

    test('more data than declared', async () => {
      const d = pair('extra', Buffer.concat([good(), Buffer.from([1, 2, 3])]));
      await expect(new MNIST({ root: d }).load()).rejects.toThrow(
        `${d}/train-images-idx3-ubyte: holds more data than its header declares (10x5x7); wrong or corrupt file?`,
      );
    });

    test('counts that disagree, wrong dimensions, labels out of range', async () => {
      const d1 = pair('count-mismatch', good(), idxBuffer([9], new Uint8Array(9)));
      expect(() => new MNIST({ root: d1 })).toThrow(
        `${d1}/train-labels-idx1-ubyte: holds 9 labels but ${d1}/train-images-idx3-ubyte holds 10 images`,
      );
      const d2 = pair('swapped', idxBuffer([10], new Uint8Array(10)), good());
      expect(() => new MNIST({ root: d2 })).toThrow(
        `${d2}/train-images-idx3-ubyte: expected an IDX image file with 3 dimensions (count, rows, columns) but it has 1`,
      );
      const bad = new Uint8Array(10);
      bad[3] = 12;
      const d3 = pair('label-range', good(), idxBuffer([10], bad));
      await expect(new MNIST({ root: d3 }).load()).rejects.toThrow(
        `${d3}/train-labels-idx1-ubyte: label 12 of sample 3 is outside [0, 10)`,
      );
    });

    test('too short for a header, and an implausible header', async () => {
      const d = pair('tiny', Buffer.from([0, 0, 8]));
      expect(() => new MNIST({ root: d })).toThrow(
        `${d}/train-images-idx3-ubyte: truncated: 3 bytes, too short for an IDX header`,
      );
      const huge = Buffer.alloc(16);
      huge[2] = 8;
      huge[3] = 3;
      huge.writeUInt32BE(0xffffffff, 4);
      huge.writeUInt32BE(0xffffffff, 8);
      huge.writeUInt32BE(0xffffffff, 12);
      const d2 = dir('huge');
      fs.writeFileSync(path.join(d2, 'train-images-idx3-ubyte.gz'), zlib.gzipSync(huge));
      fs.writeFileSync(path.join(d2, 'train-labels-idx1-ubyte'), idxBuffer([0xffffffff], new Uint8Array(0)));
      await expect(new MNIST({ root: d2 }).load()).rejects.toThrow(
        `${d2}/train-images-idx3-ubyte.gz: IDX header declares an implausible size 4294967295x4294967295x4294967295 (corrupt header?)`,
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('CIFAR fixtures', () => {
  const per = 3 * 32 * 32;

  test('CIFAR-10: five training batches and a test batch, CHW pixels, class names from the meta file', async () => {
    const root = dir('c10');
    const d = path.join(root, 'cifar-10-batches-bin');
    fs.mkdirSync(d);
    const all = bytes(11 * per, 9);
    const labels = Array.from({ length: 11 }, (_, i) => (i * 3) % 10);
    // Batches of 2 records, then the test batch of 1.
    for (let b = 0; b < 5; b++) {
      fs.writeFileSync(
        path.join(d, `data_batch_${b + 1}.bin`),
        cifarBuffer([[labels[2 * b]], [labels[2 * b + 1]]], all.subarray(2 * b * per, (2 * b + 2) * per)),
      );
    }
    fs.writeFileSync(path.join(d, 'test_batch.bin'), cifarBuffer([[labels[10]]], all.subarray(10 * per)));
    const names = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    fs.writeFileSync(path.join(d, 'batches.meta.txt'), names.join('\n') + '\n\n');
    const train = new CIFAR10({ root });
    expect(train.length).toBe(10);
    expect(train.imageShape).toEqual([3, 32, 32]);
    expect(train.classes).toEqual(names);
    const s = await train.get(7);
    expect(s.label).toBe(labels[7]);
    expect(Buffer.from(s.image.toTypedArray() as Uint8Array).equals(Buffer.from(all.subarray(7 * per, 8 * per)))).toBe(
      true,
    );
    const testSplit = new CIFAR10({ root: d, split: 'test' });
    expect(testSplit.length).toBe(1);
    const r = await pass(
      new DataLoader(train, {
        batchSize: 4,
        order: 'sequential',
        transforms: [T.randomCrop(32, { padding: 4 }), T.horizontalFlip(), T.normalize('cifar10')],
      }),
    );
    expect(r.labels).toEqual(labels.slice(0, 10));
  });

  test('CIFAR-100: fine and coarse labels', async () => {
    const d = dir('c100/cifar-100-binary');
    const pixels = bytes(3 * per, 4);
    fs.writeFileSync(
      path.join(d, 'train.bin'),
      cifarBuffer(
        [
          [1, 42],
          [19, 99],
          [0, 0],
        ],
        pixels,
      ),
    );
    const fine = new CIFAR100({ root: path.dirname(d) });
    const coarse = new CIFAR100({ root: path.dirname(d), labels: 'coarse' });
    expect(fine.classes.length).toBe(100);
    expect(coarse.classes.length).toBe(20);
    expect(ints(await fine.labels())).toEqual([42, 99, 0]);
    expect(ints(await coarse.labels())).toEqual([1, 19, 0]);
    expect(
      Buffer.from((await fine.get(2)).image.toTypedArray() as Uint8Array).equals(Buffer.from(pixels.subarray(2 * per))),
    ).toBe(true);
  });

  test('missing, truncated and mislabelled files', async () => {
    const empty = dir('c-empty');
    expect(() => new CIFAR10({ root: empty })).toThrow(
      `CIFAR-10 train files not found: looked for data_batch_1.bin in ${empty}/cifar-10-batches-bin and ${empty}. ` +
        'Download the binary version from https://www.cs.toronto.edu/~kriz/cifar.html, extract it, and pass root: the folder that contains cifar-10-batches-bin.',
    );
    const partial = dir('c-partial');
    fs.writeFileSync(path.join(partial, 'data_batch_1.bin'), cifarBuffer([[1]], bytes(per, 1)));
    expect(() => new CIFAR10({ root: partial })).toThrow(
      `CIFAR-10 train file missing: ${partial}/data_batch_2.bin (an incomplete extraction?)`,
    );
    const trunc = dir('c-trunc');
    fs.writeFileSync(path.join(trunc, 'test_batch.bin'), cifarBuffer([[1], [2]], bytes(2 * per, 1)).subarray(0, 5000));
    expect(() => new CIFAR10({ root: trunc, split: 'test' })).toThrow(
      `${trunc}/test_batch.bin: size 5000 bytes is not a whole number of 3073-byte CIFAR records (truncated or not a CIFAR binary file?)`,
    );
    const mixed = dir('c-mixed');
    fs.writeFileSync(path.join(mixed, 'test_batch.bin'), cifarBuffer([[3], [57]], bytes(2 * per, 1)));
    await expect(new CIFAR10({ root: mixed, split: 'test' }).load()).rejects.toThrow(
      `${mixed}/test_batch.bin: label 57 of record 1 is outside [0, 10) (corrupt file, or CIFAR-10 and CIFAR-100 files mixed up?)`,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('ImageFolder', () => {
  // 4x6 RGB images whose pixels encode (class, image, y, x).
  const pixel = (cls: number, img: number, y: number, x: number, c: number): number =>
    (cls * 97 + img * 31 + y * 13 + x * 5 + c * 50) % 256;
  async function writeImage(file: string, cls: number, img: number, format: 'png' | 'jpeg'): Promise<void> {
    const raw = Buffer.from(
      Array.from({ length: 4 * 6 * 3 }, (_, i) => pixel(cls, img, Math.floor(i / 18), Math.floor(i / 3) % 6, i % 3)),
    );
    const s = sharp(raw, { raw: { width: 6, height: 4, channels: 3 } });
    await (format === 'png' ? s.png() : s.jpeg({ quality: 95 })).toFile(file);
  }
  let root = '';

  beforeAll(async () => {
    root = dir('folder');
    // Classes out of name order on disk; 'b-dog' has a nested folder; a non-image file is ignored.
    for (const [cls, name] of [
      [1, 'b-dog'],
      [0, 'a-cat'],
    ] as const) {
      fs.mkdirSync(path.join(root, name, 'nested'), { recursive: true });
      await writeImage(path.join(root, name, '2.png'), cls, 2, 'png');
      await writeImage(path.join(root, name, '1.PNG'), cls, 1, 'png');
      await writeImage(path.join(root, name, 'nested', '3.jpg'), cls, 3, 'jpeg');
      fs.writeFileSync(path.join(root, name, 'notes.txt'), 'not an image');
    }
  });

  test('classes sorted by name, files in sorted order, PNG pixels exact, JPEG close', async () => {
    const ds = new ImageFolder({ root, imageSize: [4, 6] });
    expect(ds.classes).toEqual(['a-cat', 'b-dog']);
    expect(ds.length).toBe(6);
    expect(ds.imageShape).toEqual([3, 4, 6]);
    expect(ds.samples.map((s) => [path.relative(root, s.path), s.label])).toEqual([
      ['a-cat/1.PNG', 0],
      ['a-cat/2.png', 0],
      ['a-cat/nested/3.jpg', 0],
      ['b-dog/1.PNG', 1],
      ['b-dog/2.png', 1],
      ['b-dog/nested/3.jpg', 1],
    ]);
    const png = await ds.get(4);
    expect(png.label).toBe(1);
    const p = png.image.toTypedArray() as Uint8Array;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 4; y++) for (let x = 0; x < 6; x++) expect(p[(c * 4 + y) * 6 + x]).toBe(pixel(1, 2, y, x, c));
    const jpg = (await ds.get(2)).image.toTypedArray() as Uint8Array;
    let err = 0;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 6; x++) err += Math.abs(jpg[(c * 4 + y) * 6 + x] - pixel(0, 3, y, x, c));
    expect(err / 72).toBeLessThan(30);
    const r = await pass(
      new DataLoader(ds, { batchSize: 4, seed: 3, transforms: [T.horizontalFlip(), T.normalize('imagenet')] }),
    );
    expect(sorted(r.indices)).toEqual(range(6));
  });

  test('resizes to imageSize, grayscale on request', async () => {
    const ds = new ImageFolder({ root, imageSize: 8, channels: 1, fit: 'fill' });
    expect(ds.imageShape).toEqual([1, 8, 8]);
    const { image } = await ds.get(0);
    expect(image.shape).toEqual([1, 8, 8]);
  });

  test('corrupt images, empty class folders, missing roots', async () => {
    const bad = dir('folder-bad');
    fs.mkdirSync(path.join(bad, 'x'));
    await writeImage(path.join(bad, 'x', 'ok.png'), 0, 0, 'png');
    fs.writeFileSync(path.join(bad, 'x', 'broken.png'), 'this is not a png');
    await expect(new ImageFolder({ root: bad, imageSize: 4 }).load()).rejects.toThrow(
      `ImageFolder could not decode ${bad}/x/broken.png: Input file contains unsupported image format`,
    );
    const cut = dir('folder-cut');
    fs.mkdirSync(path.join(cut, 'x'));
    await writeImage(path.join(cut, 'x', 'a.jpg'), 0, 0, 'jpeg');
    const jpeg = fs.readFileSync(path.join(cut, 'x', 'a.jpg'));
    fs.writeFileSync(path.join(cut, 'x', 'a.jpg'), jpeg.subarray(0, jpeg.length - 30));
    await expect(new ImageFolder({ root: cut, imageSize: 4 }).load()).rejects.toThrow(
      `ImageFolder could not decode ${cut}/x/a.jpg: `,
    );

    const emptyClass = dir('folder-empty-class');
    fs.mkdirSync(path.join(emptyClass, 'a'));
    expect(() => new ImageFolder({ root: emptyClass, imageSize: 4 })).toThrow(
      `ImageFolder found no .jpg, .jpeg or .png files in class folder ${emptyClass}/a`,
    );
    const noClasses = dir('folder-no-classes');
    expect(() => new ImageFolder({ root: noClasses, imageSize: 4 })).toThrow(
      `ImageFolder found no class folders in ${noClasses} (expected ${noClasses}/<class>/<image>.jpg)`,
    );
    expect(() => new ImageFolder({ root: path.join(tmp, 'nope'), imageSize: 4 })).toThrow(
      `ImageFolder root ${tmp}/nope does not exist or is not a folder`,
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('bad options', () => {
  const ds = new TensorDataset({ images: new Uint8Array(4 * 8 * 8), shape: [4, 8, 8], labels: [0, 1, 0, 1] });
  const make = (o: unknown) => () => new DataLoader(ds, o as DataLoaderOptions);

  test('DataLoader options', () => {
    expectError(make({ batchSize: 0 })).toThrow(
      new RangeError('Expected positive integer for batchSize but received 0 (number)'),
    );
    expectError(make({ batchSize: 1.5 })).toThrow(
      new RangeError('Expected positive integer for batchSize but received 1.5 (number)'),
    );
    expectError(make({ batchSize: '8' })).toThrow(
      new TypeError("Expected positive integer for batchSize but received '8' (string)"),
    );
    expectError(make({ order: 'random' })).toThrow(
      new RangeError("Expected one of 'shuffle', 'sequential', 'classSorted' for order but received 'random' (string)"),
    );
    expectError(make({ numWorkers: -1 })).toThrow(
      new RangeError('Expected integer between 0 and 64 for numWorkers but received -1 (number)'),
    );
    expectError(make({ prefetch: 0 })).toThrow(
      new RangeError('Expected positive integer for prefetch but received 0 (number)'),
    );
    expectError(make({ dropLast: 'yes' })).toThrow(
      new TypeError("Expected boolean for dropLast but received 'yes' (string)"),
    );
    expectError(make({ seed: -1 })).toThrow(
      new RangeError('Expected non-negative safe integer or bigint for seed but received -1 (number)'),
    );
    expectError(make({ device: 'tpu' })).toThrow(
      new RangeError("Expected 'cpu', 'cuda' or 'cuda:N' for device but received 'tpu' (string)"),
    );
    expectError(make({ shuffle: true })).toThrow(
      new RangeError(
        "Unknown option 'shuffle' in options; expected one of batchSize, order, seed, dropLast, numWorkers, prefetch, transforms, device, shard",
      ),
    );
    expectError(make(5)).toThrow(new TypeError('Expected object for options but received 5 (number)'));
    expectError(() => new DataLoader({ length: 3 } as unknown as Dataset)).toThrow(
      new TypeError(
        'Expected Dataset (FashionMNIST, MNIST, CIFAR10, CIFAR100, ImageFolder or TensorDataset) for dataset but received an object',
      ),
    );
    const loader = new DataLoader(ds);
    expectError(() => loader.setEpoch(-1)).toThrow(
      new RangeError('Expected non-negative integer for epoch but received -1 (number)'),
    );
    expectError(() => loader.setEpoch(1.5)).toThrow(
      new RangeError('Expected non-negative integer for epoch but received 1.5 (number)'),
    );
  });

  test('transforms', () => {
    const t = (transforms: unknown) => make({ transforms });
    expectError(t('flip')).toThrow(
      new TypeError("Expected array of transforms for transforms but received 'flip' (string)"),
    );
    expectError(t([{ kind: 'rotate' }])).toThrow(
      new RangeError(
        "Expected one of 'randomCrop', 'centerCrop', 'horizontalFlip', 'verticalFlip', 'resize', 'normalize' for transforms[0].kind but received 'rotate' (string)",
      ),
    );
    expectError(t([T.randomCrop(20, { padding: 4 })])).toThrow(
      new RangeError('transforms[0]: randomCrop size 20x20 is larger than the 8x8 image plus padding 4'),
    );
    expectError(t([T.randomCrop(8, { padding: -1 })])).toThrow(
      new RangeError('Expected non-negative integer for transforms[0].padding but received -1 (number)'),
    );
    expectError(t([T.randomCrop(0)])).toThrow(
      new RangeError('Expected positive integer for transforms[0].size but received 0 (number)'),
    );
    expectError(t([T.resize([4, 0])])).toThrow(
      new RangeError('Expected positive integer for transforms[0].size[1] but received 0 (number)'),
    );
    expectError(t([T.horizontalFlip(2)])).toThrow(
      new RangeError('Expected number between 0 and 1 for transforms[0].p but received 2 (number)'),
    );
    expectError(t([T.normalize('mnist'), T.horizontalFlip()])).toThrow(
      new RangeError('transforms[0]: normalize must be the last transform'),
    );
    expectError(t([T.normalize('cifar10')])).toThrow(
      new RangeError("transforms[0]: normalize preset 'cifar10' is for 3-channel images but these have 1"),
    );
    expectError(t([T.normalize('svhn' as never)])).toThrow(
      new RangeError(
        "Expected one of 'fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagenet' for transforms[0].preset but received 'svhn' (string)",
      ),
    );
    expectError(t([T.normalize({ mean: [0.5, 0.5], std: 0.5 })])).toThrow(
      new RangeError(
        'Expected 1 value(s) for transforms[0].mean (one per image channel) but received an array of length 2',
      ),
    );
    expectError(t([T.normalize({ mean: 0.5, std: 0 })])).toThrow(
      new RangeError('Expected positive number for transforms[0].std[0] but received 0 (number)'),
    );
    expectError(t([{ kind: 'horizontalFlip', prob: 0.5 }])).toThrow(
      new RangeError("Unknown option 'prob' in transforms[0]; expected one of kind, p"),
    );
    expectError(() => T.randomCrop(4, { pad: 1 } as never)).toThrow(
      new RangeError("Unknown option 'pad' in randomCrop options; expected one of padding"),
    );
  });

  test('datasets', async () => {
    expectError(() => new FashionMNIST({ split: 'val' as never })).toThrow(
      new RangeError("Expected one of 'train', 'test' for split but received 'val' (string)"),
    );
    expectError(() => new MNIST({} as never)).toThrow(
      new TypeError('Expected non-empty string (the folder holding the IDX files) for root but received undefined'),
    );
    expectError(() => new CIFAR10({ root: 3 } as never)).toThrow(
      new TypeError('Expected non-empty string for root but received 3 (number)'),
    );
    expectError(() => new CIFAR100({ root: tmp, labels: 'medium' } as never)).toThrow(
      new RangeError("Expected one of 'fine', 'coarse' for labels but received 'medium' (string)"),
    );
    expectError(() => new ImageFolder({ root: tmp } as never)).toThrow(
      new TypeError('Expected positive integer or [height, width] for imageSize but received undefined'),
    );
    expectError(() => new ImageFolder({ root: tmp, imageSize: 8, channels: 2 } as never)).toThrow(
      new RangeError('Expected 1 or 3 for channels but received 2 (number)'),
    );
    await expect(ds.get(4)).rejects.toThrow(
      new RangeError('Expected integer between 0 and 3 for index but received 4 (number)'),
    );
    await expect(ds.get(-1)).rejects.toThrow(
      new RangeError('Expected integer between 0 and 3 for index but received -1 (number)'),
    );
  });

  test('TensorDataset', () => {
    const img = new Uint8Array(2 * 4);
    expectError(() => new TensorDataset({ images: img, shape: [2, 2, 2], labels: [0] })).toThrow(
      new RangeError('Expected 2 labels (one per image) but received 1'),
    );
    expectError(() => new TensorDataset({ images: img, shape: [2, 2, 2], labels: [0, -1] })).toThrow(
      new RangeError('Expected non-negative integer for labels[1] but received -1 (number)'),
    );
    expectError(
      () => new TensorDataset({ images: img, shape: [2, 2, 2], labels: [0, 2], classes: ['a', 'b'] }),
    ).toThrow(new RangeError('Expected labels below 2 (the number of classes) but labels[1] is 2'));
    expectError(() => new TensorDataset({ images: img, shape: [3, 2, 2], labels: [0, 1, 0] })).toThrow(
      new RangeError('Expected shape [3, 2, 2] to hold 12 elements but data has 8'),
    );
    expectError(() => new TensorDataset({ images: img, labels: [0, 1] })).toThrow(
      new TypeError(
        'Expected array [N, C, H, W] or [N, H, W] (required with a typed array) for shape but received undefined',
      ),
    );
    expectError(() => new TensorDataset({ images: [1, 2] as never, labels: [0] })).toThrow(
      new TypeError('Expected Tensor, Uint8Array or Float32Array for images but received an array of length 2'),
    );
    expectError(
      () => new TensorDataset({ images: Tensor.fromTypedArray(new Float64Array(8), [2, 4]), labels: [0, 1] }),
    ).toThrow(new TypeError('Expected uint8 or float32 images but received a float64 Tensor'));
  });
});

// ---------------------------------------------------------------------------------------------

describe('sizes bounded by memory, and unreadable images', () => {
  const small = () => new TensorDataset({ images: new Uint8Array(2 * 8 * 8), shape: [2, 1, 8, 8], labels: [0, 1] });

  test('transform sizes are bounded (8192 a side), and so is a batch (by this machine memory)', () => {
    expect(() => new DataLoader(small(), { transforms: [T.resize([1e6, 1e6])] })).toThrow(
      new RangeError(
        'Expected positive integer of at most 8192 pixels for transforms[0].size[0] but received 1000000 (number)',
      ),
    );
    expect(() => new DataLoader(small(), { transforms: [T.centerCrop(1e5)] })).toThrow(
      new RangeError(
        'Expected positive integer of at most 8192 pixels for transforms[0].size but received 100000 (number)',
      ),
    );
    expect(() => new DataLoader(small(), { transforms: [T.resize(8000)] })).not.toThrow();
    expect(() => new DataLoader(small(), { batchSize: 1e6, transforms: [T.resize(8192)] })).toThrow(
      /^A batch of 1000000 float32 samples of shape \[1, 8192, 8192\] needs 268435\.5 GB, more than this machine's memory \([\d.]+ GB\); lower batchSize or the transforms' sizes$/,
    );
    expect(() => new ImageFolder({ root: tmp, imageSize: 1e5 })).toThrow(
      new RangeError('Expected positive integer of at most 8192 pixels for imageSize but received 100000 (number)'),
    );
  });

  test("an empty image says so; onError 'skip' leaves unreadable images out with a warning and a count", async () => {
    const root = dir('folder-unreadable');
    for (const cls of ['a', 'b']) {
      fs.mkdirSync(path.join(root, cls));
      for (const i of [1, 2]) {
        await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 10 * i, g: 0, b: 0 } } })
          .png()
          .toFile(path.join(root, cls, `${i}.png`));
      }
    }
    fs.writeFileSync(path.join(root, 'a', '0.jpg'), '');
    const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: 'white' } })
      .jpeg()
      .toBuffer();
    fs.writeFileSync(path.join(root, 'b', '0.jpg'), jpeg.subarray(0, 40));

    await expect(new ImageFolder({ root, imageSize: 4 }).load()).rejects.toThrow(
      `ImageFolder: ${root}/a/0.jpg is empty (0 bytes)`,
    );
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const ds = new ImageFolder({ root, imageSize: 4, onError: 'skip' });
      expect(ds.length).toBe(6);
      await ds.load();
      expect(ds.length).toBe(4);
      expect(ds.samples.map((s) => path.relative(root, s.path))).toEqual(['a/1.png', 'a/2.png', 'b/1.png', 'b/2.png']);
      expect(ds.skipped.map((s) => path.relative(root, s.path))).toEqual(['a/0.jpg', 'b/0.jpg']);
      expect(ds.skipped[0].reason).toBe(`ImageFolder: ${root}/a/0.jpg is empty (0 bytes)`);
      expect(ds.skipped[1].reason).toMatch(new RegExp(`^ImageFolder could not decode ${root}/b/0.jpg: .+`));
      expect((await ds.get(2)).label).toBe(1);
      expect(warn.mock.calls).toEqual([
        [
          `ImageFolder skipped 2 of 6 images under ${root} that could not be read (first: ImageFolder: ${root}/a/0.jpg is empty (0 bytes)); the dataset's skipped property lists them`,
          { code: 'NOISYNN_IMAGES_SKIPPED' },
        ],
      ]);
    } finally {
      warn.mockRestore();
    }
    expect(() => new ImageFolder({ root, imageSize: 4, onError: 'ignore' as 'skip' })).toThrow(
      new RangeError("Expected one of 'throw', 'skip' for onError but received 'ignore' (string)"),
    );
  });
});
