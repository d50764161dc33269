// Small datasets for training tests: slices of Fashion-MNIST as TensorDatasets.
import { FashionMNIST, TensorDataset } from '../../lib';

/** The first `n` samples of a Fashion-MNIST split, as an in-memory TensorDataset. */
export async function fashionSlice(split: 'train' | 'test', n: number, start = 0): Promise<TensorDataset> {
  const source = new FashionMNIST({ split });
  const pixels = new Uint8Array(n * 28 * 28);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const { image, label } = await source.get(start + i);
    pixels.set(image.toTypedArray() as Uint8Array, i * 28 * 28);
    image.dispose();
    labels.push(label);
  }
  return new TensorDataset({ images: pixels, shape: [n, 1, 28, 28], labels, classes: source.classes });
}
