// Seed inputs of the libFuzzer harnesses (native/fuzz), made by the data tests' own generators:
// valid files of each format and the malformed ones the tests reject. Written to
// native/fuzz/corpus/<harness>/ by `NOISYNN_WRITE_FUZZ_CORPUS=1 npx jest test/fuzz-corpus.test.ts`.
import * as zlib from 'zlib';
import { bytes, cifarBuffer, idxBuffer } from './datafiles';
import { safetensorsBuffer, safetensorsOf } from './safetensors';

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);

/** The seeds of each harness that JavaScript alone can make, by file name. */
export function fuzzSeeds(): Record<string, Record<string, Buffer>> {
  const images = idxBuffer([3, 4, 5], bytes(60, 1));
  const labels = idxBuffer([3], Uint8Array.from([0, 9, 4]));
  const per = 3 * 32 * 32;
  const pixels = bytes(2 * per, 2);
  const cifar10 = cifarBuffer([[3], [7]], pixels);
  const cifar100 = cifarBuffer(
    [
      [4, 31],
      [19, 99],
    ],
    pixels,
  );
  const st = safetensorsOf(
    { w: { shape: [2, 3], values: [1, 2, 3, 4, 5, 6] }, b: { shape: [3], values: [0.5, -1, 2] } },
    { format: 'pt' },
  );
  const header = (b: Buffer): Buffer => b.subarray(8, 8 + Number(b.readBigUInt64LE(0)));
  return {
    idx: {
      // The two-file layout: [label file offset (2 bytes), image file, label file].
      'mnist-pair': Buffer.concat([u16(images.length), images, labels]),
      'mnist-pair-gzip': (() => {
        const zi = zlib.gzipSync(images);
        return Buffer.concat([u16(zi.length), zi, zlib.gzipSync(labels)]);
      })(),
      'idx1-labels': Buffer.concat([u16(labels.length), labels]),
      'idx4-zero-dim': Buffer.concat([u16(0), idxBuffer([2, 0, 3, 1], new Uint8Array(0))]),
      'truncated-header': Buffer.concat([u16(3), Buffer.from([0, 0, 8])]),
      'wrong-type': Buffer.concat([u16(8), idxBuffer([2], Uint8Array.from([1, 2]), 0x0d)]),
    },
    idx_gzip: {
      // [mode, cut (2 bytes), IDX stream]: see native/fuzz/fuzz_idx_gzip.cc.
      whole: Buffer.concat([Buffer.from([0 | (6 << 3)]), u16(0), images]),
      stored: Buffer.concat([Buffer.from([0]), u16(0), images]),
      truncated: Buffer.concat([Buffer.from([1 | (6 << 3)]), u16(30), images]),
      flipped: Buffer.concat([Buffer.from([2 | (1 << 3)]), u16(12), images]),
      trailing: Buffer.concat([Buffer.from([3 | (6 << 3)]), u16(0), labels]),
      'two-members': Buffer.concat([Buffer.from([4 | (6 << 3)]), u16(20), images]),
    },
    cifar: {
      // [format, cut (2 bytes), records]: format 0 CIFAR-10, 1 CIFAR-100 coarse, 2 fine; +4 two files.
      'cifar10-two-records': Buffer.concat([Buffer.from([0]), u16(0), cifar10]),
      'cifar10-two-files': Buffer.concat([Buffer.from([4]), u16(per + 1), cifar10]),
      'cifar100-coarse': Buffer.concat([Buffer.from([1]), u16(0), cifar100]),
      'cifar100-fine-two-files': Buffer.concat([Buffer.from([6]), u16(per + 2), cifar100]),
      'cifar10-short': Buffer.concat([Buffer.from([0]), u16(0), cifar10.subarray(0, 5000)]),
    },
    safetensors: {
      'two-tensors': st,
      'empty-header': safetensorsBuffer('{}', Buffer.alloc(0)),
      'lying-length': safetensorsBuffer('{}', Buffer.alloc(10), 1000n),
      'zero-size': safetensorsBuffer(
        JSON.stringify({ w: { dtype: 'F32', shape: [0, 4], data_offsets: [0, 0] } }),
        Buffer.alloc(0),
      ),
      dtypes: safetensorsBuffer(
        JSON.stringify({
          a: { dtype: 'BOOL', shape: [2], data_offsets: [0, 2] },
          b: { dtype: 'F16', shape: [1], data_offsets: [2, 4] },
          c: { dtype: 'I64', shape: [1], data_offsets: [4, 12] },
        }),
        Buffer.from([1, 7, 0, 60, 1, 0, 0, 0, 0, 0, 0, 0]),
      ),
      overlap: safetensorsBuffer(
        JSON.stringify({
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        }),
        Buffer.alloc(8),
      ),
    },
    json: {
      'safetensors-header': header(st),
      nested: Buffer.from('{"a": [1, 2.5e-3, -0, true, false, null, {"b": "\\u00e9\\ud83d\\ude00\\n"}], "c": {}}'),
      'big-number': Buffer.from('[18446744073709551615, 18446744073709551616, 1e400, -1]'),
      'duplicate-key': Buffer.from('{"w": {}, "w": {}}'),
      'deep-array': Buffer.from('['.repeat(70) + ']'.repeat(70)),
    },
  };
}
