// Dataset files that claim more than they hold, as the fuzzers (native/fuzz) made them: refused
// with their messages before anything is allocated for the claim.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { MNIST } from '../lib';
import { idxBuffer } from './helpers/datafiles';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-parsers-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('IDX files whose header claims more than the file can hold', () => {
  test('a gzip file declaring more than 1032x its size is refused before anything is allocated', async () => {
    const d = path.join(tmp, 'gzip-claim');
    fs.mkdirSync(d);
    // 20,000 x 100 x 100 = 200 MB declared in a few dozen compressed bytes.
    fs.writeFileSync(
      path.join(d, 'train-images-idx3-ubyte.gz'),
      zlib.gzipSync(idxBuffer([20000, 100, 100], new Uint8Array(0))),
    );
    fs.writeFileSync(path.join(d, 'train-labels-idx1-ubyte'), idxBuffer([20000], new Uint8Array(20000)));
    const file = path.join(d, 'train-images-idx3-ubyte.gz');
    const size = fs.statSync(file).size;
    await expect(new MNIST({ root: d }).load()).rejects.toThrow(
      `${file}: truncated or corrupt: the header declares 20000x100x100 = 200000000 bytes of data, more than a ${size}-byte gzip file can hold`,
    );
  });
});
