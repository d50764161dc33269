// How the package presents a dataset: its normalization preset and its name in reports.
import type { NormalizePreset } from '../transforms';
import { CIFAR10, CIFAR100 } from './cifar';
import type { Dataset } from './dataset';
import { FashionMNIST, MNIST } from './idx';

/** The normalization preset for a built-in dataset, or null for one without a known preset. */
export function normalizationFor(dataset: Dataset): NormalizePreset | null {
  if (dataset instanceof FashionMNIST) return 'fashion-mnist';
  if (dataset instanceof MNIST) return 'mnist';
  if (dataset instanceof CIFAR10) return 'cifar10';
  if (dataset instanceof CIFAR100) return 'cifar100';
  return dataset.imageShape[0] === 3 ? 'imagenet' : null;
}

/** How reports name a dataset: 'Fashion-MNIST', 'CIFAR-10', ... or its class name. */
export function displayName(dataset: Dataset): string {
  if (dataset instanceof FashionMNIST) return 'Fashion-MNIST';
  if (dataset instanceof MNIST) return 'MNIST';
  if (dataset instanceof CIFAR10) return 'CIFAR-10';
  if (dataset instanceof CIFAR100) return 'CIFAR-100';
  return dataset.constructor.name;
}
