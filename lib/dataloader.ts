// DataLoader: batches from a Dataset, assembled and augmented by native threads, in a seeded order.
import * as os from 'os';
import { binding, NativeBatch, NativeLoader, NativeLoaderConfig } from './binding';
import { Dataset } from './datasets';
import { autoShard, expectShard, Shard } from './distributed';
import { cudaUnavailableReason, info } from './info';
import { seedOrRandom } from './seeds';
import { Device, Tensor } from './tensor';
import { resolveTransforms, Transform } from './transforms';
import {
  expectBoolean,
  expectDevice,
  expectInteger,
  expectKnownKeys,
  expectNonNegativeInteger,
  expectOneOf,
  expectOptions,
  expectPositiveInteger,
  typeError,
} from './validate';

export type Order = 'shuffle' | 'sequential' | 'classSorted';
export const ORDERS: readonly Order[] = ['shuffle', 'sequential', 'classSorted'];

export interface DataLoaderOptions {
  /** Samples per batch. Default 64. */
  batchSize?: number;
  /**
   * 'shuffle' (default): a permutation drawn from (seed, epoch). 'sequential': dataset order.
   * 'classSorted': grouped by label, dataset order within a class, so most batches hold a single
   * class. That is how the NoisyNN paper's official evaluation read its test set, and with
   * batch-axis noise it leaks the label through the batch; it exists for the leakage audit.
   */
  order?: Order;
  /** Seed of the order and of the random transforms (number or bigint). Default: random. */
  seed?: number | bigint;
  /** Drop the last batch when it is short. Default false. */
  dropLast?: boolean;
  /**
   * Native threads assembling batches. Default 2. 0 assembles each batch when it is asked for
   * (on a libuv pool thread, still off the JS thread). Results do not depend on it.
   */
  numWorkers?: number;
  /** Finished batches kept ready ahead of the consumer (bounds memory). Default max(2, 2 * numWorkers). */
  prefetch?: number;
  /** Per-sample transforms, applied in order (see `transforms`). Default none. */
  transforms?: readonly Transform[];
  /** Where batches are delivered: 'cpu' (default), 'cuda' or 'cuda:N' (only when CUDA is available). */
  device?: Device;
  /**
   * Data-parallel training: this process's share of every epoch, with PyTorch's
   * DistributedSampler's semantics. Each epoch's order (sequential, class-sorted, or the seeded
   * shuffle, identical on every rank: the seed then defaults to 0) is padded by wrapping around
   * to a multiple of worldSize (or cut down to one, with `dropLast`), and rank r takes positions
   * r, r + worldSize, r + 2 worldSize, ... `'auto'` takes the rank and world size of the group a
   * Trainer of this process joined, else of the environment (RANK, WORLD_SIZE), resolved when the
   * loader is first used. Default: none (the whole dataset).
   */
  shard?: 'auto' | Shard;
}

/** One batch. */
export interface Batch {
  /** float32 [B, C, H, W], transformed, on the loader's device. */
  images: Tensor;
  /** int64 [B], on the loader's device. */
  labels: Tensor;
  /** int64 [B] on the CPU: the dataset index of each sample. */
  indices: Tensor;
  /** Position of this batch in its epoch. */
  index: number;
  /** The epoch it belongs to. */
  epoch: number;
  /**
   * How many of its samples, from the first, are this shard's own: the rest pad a sharded epoch
   * to equal length (repeats of samples another rank has). The batch size without sharding.
   */
  valid: number;
}

const OPTION_KEYS = [
  'batchSize',
  'order',
  'seed',
  'dropLast',
  'numWorkers',
  'prefetch',
  'transforms',
  'device',
  'shard',
];

/**
 * Iterates a dataset in batches. Batches are assembled on native threads (uint8 to float,
 * augmentation, normalization) with a bounded number ready ahead; the JS thread only receives
 * finished batches.
 *
 * Each pass (a `for await` loop) uses the loader's current epoch and then advances it, so
 * successive passes reshuffle; `setEpoch(e)` chooses the epoch of the next pass. The order
 * depends only on (seed, epoch) and each sample's augmentation only on (seed, epoch, sample
 * index): the same seed gives the same batches whatever numWorkers is. Every sample appears
 * exactly once per pass (the last batch is short unless dropLast). Starting a new pass abandons
 * one in progress. Batches are native memory: `dispose()` them when done to free it at once.
 *
 * @throws TypeError / RangeError for bad options, e.g.
 *   `Expected positive integer for batchSize but received 0 (number)`.
 * @example
 * const loader = new DataLoader(new FashionMNIST({ split: 'train' }), {
 *   batchSize: 128,
 *   seed: 1,
 *   transforms: [transforms.randomCrop(28, { padding: 4 }), transforms.horizontalFlip(), transforms.normalize('fashion-mnist')],
 * });
 * for (let epoch = 0; epoch < 10; epoch++) {
 *   loader.setEpoch(epoch);
 *   for await (const { images, labels } of loader) {
 *     // images: float32 [128, 1, 28, 28], labels: int64 [128]
 *   }
 * }
 */
export class DataLoader implements AsyncIterable<Batch> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly order: Order;
  readonly seed: bigint;
  readonly dropLast: boolean;
  readonly numWorkers: number;
  readonly prefetch: number;
  readonly device: Device;
  /** Shape of one transformed sample, [C, H, W]: the model's input. */
  readonly sampleShape: readonly [number, number, number];
  readonly #config: NativeLoaderConfig;
  readonly #shardOption: 'auto' | Shard | undefined;
  #shard: Shard | null = null;
  #native: Promise<NativeLoader> | null = null;
  #created: NativeLoader | null = null;
  #disposed = false;
  #epoch = 0;

  constructor(dataset: Dataset, options?: DataLoaderOptions) {
    if (!(dataset instanceof Dataset)) {
      throw typeError(
        'dataset',
        'Dataset (FashionMNIST, MNIST, CIFAR10, CIFAR100, ImageFolder or TensorDataset)',
        dataset,
      );
    }
    const o = expectOptions(options);
    expectKnownKeys(o, 'options', OPTION_KEYS);
    this.dataset = dataset;
    this.batchSize = o.batchSize === undefined ? 64 : expectPositiveInteger(o.batchSize, 'batchSize');
    this.order = o.order === undefined ? 'shuffle' : expectOneOf(o.order, 'order', ORDERS);
    this.#shardOption = expectShard(o.shard);
    // Every rank must deal the same order: a sharded loader's seed is not random by default.
    const seed = seedOrRandom(o.seed === undefined && this.#shardOption !== undefined ? 0 : o.seed, 'seed');
    this.seed = BigInt(seed);
    this.dropLast = o.dropLast === undefined ? false : expectBoolean(o.dropLast, 'dropLast');
    this.numWorkers = o.numWorkers === undefined ? 2 : expectInteger(o.numWorkers, 'numWorkers', 0, 64);
    this.prefetch =
      o.prefetch === undefined ? Math.max(2, 2 * this.numWorkers) : expectPositiveInteger(o.prefetch, 'prefetch');
    this.device = o.device === undefined ? 'cpu' : (expectDevice(o.device) as Device);
    if (this.device !== 'cpu' && !info().cuda) {
      throw new RangeError(`device '${this.device}' requested but ${cudaUnavailableReason()}`);
    }
    const resolved = resolveTransforms(o.transforms, dataset.imageShape);
    this.sampleShape = resolved.outputShape;
    expectBatchFits(this.batchSize, resolved.outputShape);
    this.#config = {
      batchSize: this.batchSize,
      order: this.order,
      seed,
      dropLast: this.dropLast,
      numWorkers: this.numWorkers,
      prefetch: this.prefetch,
      transforms: resolved.steps,
      device: this.device,
    };
  }

  /** Batches per pass: ceil(samples / batchSize), or floor with dropLast (samples: the shard's). */
  get length(): number {
    const { worldSize } = this._shard();
    const all = this.dataset.length;
    const n = this.dropLast ? Math.floor(all / worldSize) : Math.ceil(all / worldSize);
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** @internal The shard this loader deals (resolving 'auto' on first use), or {rank: 0, worldSize: 1}. */
  _shard(): Shard {
    if (this.#shard === null) {
      this.#shard =
        this.#shardOption === undefined
          ? { rank: 0, worldSize: 1 }
          : this.#shardOption === 'auto'
            ? autoShard()
            : this.#shardOption;
    }
    return this.#shard;
  }

  /** The epoch the next pass will use. */
  get epoch(): number {
    return this.#epoch;
  }

  /**
   * Chooses the epoch of the next pass: its order (when shuffling) and augmentations come from
   * (seed, epoch). Passes advance the epoch by one on their own.
   * @throws RangeError unless `epoch` is a non-negative safe integer.
   */
  setEpoch(epoch: number): void {
    expectNonNegativeInteger(epoch, 'epoch');
    if (!Number.isSafeInteger(epoch)) throw new RangeError(`Expected safe integer for epoch but received ${epoch}`);
    this.#epoch = epoch;
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Ends a pass in progress (its pending batch rejects) and frees the worker threads and the
   * batches prefetched for it now, rather than when the loader is garbage-collected. The dataset
   * is not affected. Idempotent; later passes throw.
   */
  dispose(): void {
    this.#disposed = true;
    this.#created?.dispose();
    this.#created = null;
  }

  /** One pass over the dataset. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Batch, void, undefined> {
    const native = await this._native();
    const epoch = this.#epoch;
    this.#epoch = epoch + 1;
    const generation = native.start(epoch);
    let done = false;
    try {
      for (;;) {
        // A batch already finished is taken at once; otherwise wait for it off the JS thread.
        let b = native.tryNext(generation);
        if (b === undefined) b = await native.next(generation);
        if (b === null) {
          done = true;
          return;
        }
        yield wrapBatch(b);
      }
    } finally {
      // A loop left early (break, throw) stops the workers from producing more of this pass.
      if (!done && !this.#disposed) native.stop(generation);
    }
  }

  /** @internal The native loader, created once the dataset is loaded (a failed creation is retried). */
  _native(): Promise<NativeLoader> {
    if (this.#disposed) return Promise.reject(new Error('DataLoader has been disposed'));
    if (this.#native === null) {
      const creating = this.dataset._native().then((ds) => {
        if (this.#disposed) throw new Error('DataLoader has been disposed');
        const { rank, worldSize } = this._shard();
        this.#created = new binding.NativeLoader(ds, { ...this.#config, shardRank: rank, shardWorld: worldSize });
        return this.#created;
      });
      this.#native = creating;
      creating.catch(() => {
        if (this.#native === creating) this.#native = null;
      });
    }
    return this.#native;
  }
}

/**
 * Refuses a batch of float32 samples that alone would exceed this machine's memory (the
 * loader keeps `prefetch` of them ready, so even less fits in practice).
 */
function expectBatchFits(batchSize: number, shape: readonly [number, number, number]): void {
  const bytes = 4 * batchSize * shape[0] * shape[1] * shape[2];
  const memory = os.totalmem();
  if (bytes <= memory) return;
  const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
  throw new RangeError(
    `A batch of ${batchSize} float32 samples of shape [${shape.join(', ')}] needs ${gb(bytes)}, more than this ` +
      `machine's memory (${gb(memory)}); lower batchSize or the transforms' sizes`,
  );
}

function wrapBatch(b: NativeBatch): Batch {
  return {
    images: Tensor._fromHandle(b.images),
    labels: Tensor._fromHandle(b.labels),
    indices: Tensor._fromHandle(b.indices),
    index: b.index,
    epoch: b.epoch,
    valid: b.valid,
  };
}
