// The Trainer's inputs checked against its model before any native work: data with more classes
// than the model's head, batches of the wrong dtype or shape, empty or disposed loaders, paths
// fit and saveWeights cannot write, and options that contradict each other.
import * as fs from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { DataLoader, NoisyViT, Tensor, TensorDataset, Trainer } from '../lib';
import { fashionSlice } from './helpers/data';

jest.setTimeout(120_000);

function tinyVit(seed: number) {
  return NoisyViT.create({
    imageSize: 28,
    patchSize: 7,
    inChannels: 1,
    numClasses: 10,
    embedDim: 32,
    depth: 2,
    numHeads: 2,
    noise: 'none',
    initSeed: seed,
  });
}

const tmp = fs.mkdtempSync(path.join(tmpdir(), 'noisynn-inputs-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let data: TensorDataset;
beforeAll(async () => {
  data = await fashionSlice('train', 128);
});
const loader = () => new DataLoader(data, { batchSize: 64, seed: 3 });

describe('inputs checked against the model', () => {
  test('a large label without classes is a RangeError, not an out-of-memory crash', () => {
    expect(() => new TensorDataset({ images: new Uint8Array(8), shape: [2, 2, 2], labels: [0, 1e8] })).toThrow(
      new RangeError(
        'Expected labels below 100000 (the most classes a TensorDataset takes) but labels[1] is 100000000',
      ),
    );
  });

  test('classes beyond numClasses, in the data or a batch, name both numbers', async () => {
    const images = new Uint8Array(32 * 28 * 28);
    const wide = new TensorDataset({
      images,
      shape: [32, 1, 28, 28],
      labels: Array.from({ length: 32 }, (_, i) => i % 21),
    });
    const trainer = new Trainer(tinyVit(8), { schedule: { name: 'constant' }, seed: 1 });
    const message =
      "The train data has 21 classes but the model's numClasses is 10: its labels up to 20 would be out of range (create the model with numClasses: 21)";
    await expect(trainer.fit(new DataLoader(wide, { batchSize: 8 }), { epochs: 1 })).rejects.toThrow(
      new RangeError(message),
    );
    await expect(trainer.evaluate(new DataLoader(wide, { batchSize: 8 }))).rejects.toThrow(
      message.replace('The train data', 'The loader data'),
    );
    const x = Tensor.fromTypedArray(new Float32Array(2 * 28 * 28), [2, 1, 28, 28]);
    const labels = Tensor.fromTypedArray(new BigInt64Array([1n, 20n]), [2]);
    await expect(trainer.step({ images: x, labels })).rejects.toThrow(
      new RangeError('Expected labels in [0, 10) for a model of numClasses 10 but the batch holds label 20'),
    );
    expect(trainer.globalStep).toBe(0);
  });

  test("step refuses uint8 images and float labels instead of libtorch's wording or truncation", async () => {
    const trainer = new Trainer(tinyVit(8), { schedule: { name: 'constant' }, seed: 1 });
    const bytes = Tensor.fromTypedArray(new Uint8Array(2 * 28 * 28), [2, 1, 28, 28]);
    const floats = Tensor.fromTypedArray(new Float32Array(2 * 28 * 28), [2, 1, 28, 28]);
    const labels = Tensor.fromTypedArray(new BigInt64Array([1n, 2n]), [2]);
    await expect(trainer.step({ images: bytes, labels })).rejects.toThrow(
      new RangeError(
        'Expected a floating-point tensor for batch.images but received dtype uint8 (DataLoader batches are float32 in [0, 1])',
      ),
    );
    await expect(
      trainer.step({ images: floats, labels: Tensor.fromTypedArray(new Float32Array([0.7, 1.2]), [2]) }),
    ).rejects.toThrow(
      new RangeError('Expected integer labels (int64, int32 or uint8) for batch.labels but received dtype float32'),
    );
    await expect(
      trainer.step({ images: floats, labels: Tensor.fromTypedArray(new Int32Array([1]), [1]) }),
    ).rejects.toThrow(new RangeError('Expected batch.labels of shape [2] (one per image) but received shape [1]'));
    expect(
      (await trainer.step({ images: floats, labels: Tensor.fromTypedArray(new Int32Array([1, 2]), [2]) })).samples,
    ).toBe(2);
  });

  test('an empty loader and a disposed validation loader are refused before any step', async () => {
    const trainer = new Trainer(tinyVit(8), { seed: 1 });
    const few = new TensorDataset({ images: new Uint8Array(3 * 28 * 28), shape: [3, 1, 28, 28], labels: [0, 1, 2] });
    await expect(trainer.fit(new DataLoader(few, { batchSize: 4, dropLast: true }), { epochs: 1 })).rejects.toThrow(
      new RangeError(
        'Expected a loader with at least one batch for train but it has none (its dataset has 3 samples, fewer than batchSize 4 with dropLast)',
      ),
    );
    const validation = loader();
    validation.dispose();
    await expect(trainer.fit(loader(), { epochs: 1, validation })).rejects.toThrow(
      new Error('The validation DataLoader has been disposed'),
    );
    expect(trainer.globalStep).toBe(0);
  });
});

describe('paths fit writes', () => {
  test('checkpointDir that is a file or cannot be written rejects at once, naming it', async () => {
    const trainer = new Trainer(tinyVit(9), { seed: 1 });
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    await expect(trainer.fit(loader(), { epochs: 1, checkpointDir: file })).rejects.toThrow(
      `Cannot write checkpointDir ${file}: it is a file, not a folder`,
    );
    await expect(trainer.fit(loader(), { epochs: 1, checkpointDir: '/proc/noisynn-checkpoints' })).rejects.toThrow(
      /^Cannot write checkpointDir \/proc\/noisynn-checkpoints: /,
    );
    await expect(trainer.fit(loader(), { epochs: 1, checkpointDir: path.join(file, 'sub') })).rejects.toThrow(
      `Cannot write checkpointDir ${path.join(file, 'sub')}: `,
    );
    expect(trainer.globalStep).toBe(0);
  });

  test('saveWeights to a folder or into a missing folder rejects, naming the path', async () => {
    const model = tinyVit(9);
    await expect(model.saveWeights(tmp)).rejects.toThrow(`Cannot write path ${tmp}: it is a folder`);
    const missing = path.join(tmp, 'missing', 'w.safetensors');
    await expect(model.saveWeights(missing)).rejects.toThrow(
      `Cannot write path ${missing}: its folder ${path.join(tmp, 'missing')} does not exist`,
    );
    await expect(model.saveWeights('/proc/w.safetensors')).rejects.toThrow(
      /^Cannot write path \/proc\/w.safetensors: /,
    );
  });
});

describe('options that contradict each other', () => {
  test('minLr above lr and Nesterov without momentum are refused', () => {
    const model = tinyVit(11);
    expect(() => new Trainer(model, { optimizer: { lr: 1e-3 }, schedule: { minLr: 1e-2 } })).toThrow(
      new RangeError('Expected number at most optimizer.lr (0.001) for schedule.minLr but received 0.01 (number)'),
    );
    expect(() => new Trainer(model, { optimizer: { name: 'sgd', momentum: 0, nesterov: true } })).toThrow(
      new RangeError('optimizer.nesterov needs optimizer.momentum > 0 (Nesterov momentum is momentum), but it is 0'),
    );
  });
});
