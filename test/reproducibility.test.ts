// The same seeds give bit-identical weights across processes: a ViT with dropout, drop-path and
// gaussian noise, and a ResNet with salt-and-pepper noise, both trained with augmentation
// (random crop and flip), whatever the loader's numWorkers (0, 1, 2). Each run is a fresh
// process that prints the SHA-256 of the weights it saved. Every seed is given: the weights'
// (initSeed), the noise's (a fresh random one when left out), the loader's and the trainer's.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

jest.setTimeout(240_000);

const dist = path.resolve(__dirname, '..', 'dist');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'noisynn-repro-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const script = path.join(tmp, 'train.js');
fs.writeFileSync(
  script,
  `const nn = require(${JSON.stringify(dist)});
  const crypto = require('crypto');
  const fs = require('fs');
  const [family, workers, out, seed] = [process.argv[2], Number(process.argv[3]), process.argv[4], Number(process.argv[5])];
  (async () => {
    const images = Uint8Array.from({ length: 96 * 16 * 16 }, (_, i) => (i * 131 + (i >> 8) * 17) % 256);
    const labels = Array.from({ length: 96 }, (_, i) => (i * 7) % 4);
    const data = new nn.TensorDataset({ images, shape: [96, 1, 16, 16], labels });
    const model = family === 'vit'
      ? nn.NoisyViT.create({ imageSize: 16, patchSize: 4, inChannels: 1, numClasses: 4, embedDim: 16, depth: 2, numHeads: 2,
          dropout: 0.1, dropPath: 0.2, noise: { kind: 'gaussian', strength: 0.3, when: 'train', seed: 9 }, initSeed: 5 })
      : nn.NoisyCNN.create({ layers: [1, 1, 1, 1], inChannels: 1, numClasses: 4, stem: 'small',
          noise: { kind: 'saltPepper', strength: 0.1, when: 'train', seed: 9 }, initSeed: 5 });
    const transforms = [nn.transforms.randomCrop(16, { padding: 2 }), nn.transforms.horizontalFlip()];
    const loader = new nn.DataLoader(data, { batchSize: 32, seed, transforms, numWorkers: workers });
    await new nn.Trainer(model, { seed }).fit(loader, { epochs: 2 });
    await model.saveWeights(out);
    process.stdout.write(crypto.createHash('sha256').update(fs.readFileSync(out)).digest('hex'));
  })().catch((e) => { console.error(e); process.exit(3); });`,
);

function weightsHash(family: 'vit' | 'cnn', workers: number, run: number, seed = 3): string {
  const out = path.join(tmp, `${family}-${workers}-${run}-${seed}.safetensors`);
  const r = spawnSync(process.execPath, [script, family, String(workers), out, String(seed)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

describe.each(['vit', 'cnn'] as const)('%s: bit-identical weights across processes', (family) => {
  test('numWorkers 0, 1 and 2, and a second process with 2', () => {
    const hashes = [
      weightsHash(family, 0, 0),
      weightsHash(family, 1, 0),
      weightsHash(family, 2, 0),
      weightsHash(family, 2, 1),
    ];
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(hashes).size).toBe(1);
    // And the seed matters (dropout, noise, crops and order all draw from it).
    expect(weightsHash(family, 2, 0, 4)).not.toBe(hashes[0]);
  });
});
