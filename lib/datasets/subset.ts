// Seeded subsets of a dataset: the same seed draws the same images, in every run and on every machine.
import type { Dataset } from './dataset';
import { TensorDataset } from './tensor-dataset';

/** A seeded permutation of 0..n-1 (Fisher-Yates over a splitmix32 stream). */
export function permutation(n: number, seed: number): Uint32Array {
  let state = (seed >>> 0) ^ 0x9e3779b9;
  const next = () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/**
 * `count` samples of `dataset` drawn without replacement by a seeded permutation, copied into a
 * TensorDataset (the images as stored, so transforms still apply). Returns `dataset` itself when
 * count is 0 or not smaller than its length.
 */
export async function randomSubset(dataset: Dataset, count: number, seed: number): Promise<Dataset> {
  if (count === 0 || count >= dataset.length) return dataset;
  const [c, h, w] = dataset.imageShape;
  const per = c * h * w;
  const order = permutation(dataset.length, seed).subarray(0, count);
  const first = await dataset.get(order[0]);
  const float = first.image.dtype === 'float32';
  first.image.dispose();
  const pixels = float ? new Float32Array(count * per) : new Uint8Array(count * per);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const s = await dataset.get(order[i]);
    pixels.set(s.image.toTypedArray() as Uint8Array | Float32Array, i * per);
    labels[i] = s.label;
    s.image.dispose();
  }
  return new TensorDataset({ images: pixels, shape: [count, c, h, w], labels, classes: dataset.classes });
}
