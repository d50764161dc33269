// Writers of small dataset files in the real formats (IDX, CIFAR binary, image folders) for the data tests.
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { rng } from './random';

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

/** An IDX file of unsigned bytes: magic 0x00000803-style header, big-endian dims, then data. */
export function idxBuffer(dims: number[], data: Uint8Array, typeCode = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = typeCode;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

export function writeIdx(file: string, dims: number[], data: Uint8Array, gzip: boolean): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const buf = idxBuffer(dims, data);
  fs.writeFileSync(file, gzip ? zlib.gzipSync(buf) : buf);
  return file;
}

/** The four MNIST files of a split pair (train and t10k) with n images of h x w. */
export function writeMnist(
  dir: string,
  opts: { n: number; h: number; w: number; gzip: boolean; seed: number },
): { images: Uint8Array; labels: Uint8Array } {
  const { n, h, w, gzip, seed } = opts;
  const images = bytes(n * h * w, seed);
  const labels = Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10);
  const ext = gzip ? '.gz' : '';
  for (const prefix of ['train', 't10k']) {
    writeIdx(path.join(dir, `${prefix}-images-idx3-ubyte${ext}`), [n, h, w], images, gzip);
    writeIdx(path.join(dir, `${prefix}-labels-idx1-ubyte${ext}`), [n], labels, gzip);
  }
  return { images, labels };
}

/** CIFAR binary records: `labelBytes` label bytes, then 3x32x32 CHW pixels. */
export function cifarBuffer(labels: number[][], pixels: Uint8Array): Buffer {
  const per = 3 * 32 * 32;
  const parts: Buffer[] = [];
  labels.forEach((l, i) => {
    parts.push(Buffer.from(l));
    parts.push(Buffer.from(pixels.subarray(i * per, (i + 1) * per)));
  });
  return Buffer.concat(parts);
}
