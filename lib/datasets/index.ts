// Datasets: Fashion-MNIST, MNIST, CIFAR-10/100, ImageFolder and TensorDataset, held in native memory;
// seeded subsets, and how reports present a dataset.
export { Dataset } from './dataset';
export type { Sample, Split } from './dataset';
export { FashionMNIST, FASHION_MNIST_ROOT, MNIST } from './idx';
export type { MNISTOptions } from './idx';
export { CIFAR10, CIFAR100 } from './cifar';
export type { CIFAR10Options, CIFAR100Options } from './cifar';
export { ImageFolder } from './image-folder';
export type { ImageFolderOptions, SkippedImage } from './image-folder';
export { TensorDataset } from './tensor-dataset';
export type { TensorDatasetOptions } from './tensor-dataset';
export { permutation, randomSubset } from './subset';
export { displayName, normalizationFor } from './presentation';
