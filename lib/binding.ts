// The one place that loads the native addon (lib/native-loader.ts) and types its surface, in area
// order: tensor, ops, models, data, train, distributed, info.
import * as path from 'path';
import { loadAddon } from './native-loader';
import type { NoiseKind } from './noise';
import type { Device } from './tensor';

// ---------------------------------------------------------------------------------------------
// tensor
// ---------------------------------------------------------------------------------------------

/** What a native tensor's dtype() reports ('bool' only for tensors the addon makes itself). */
export type NativeDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'uint8' | 'bool';

/** A libtorch tensor owned by the addon. Public code wraps it in `Tensor`. */
export interface NativeTensor {
  shape(): number[];
  dtype(): NativeDType;
  device(): string;
  toTypedArray(): Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
  to(device: string, dtype?: NativeDType): NativeTensor;
  dispose(): void;
  isDisposed(): boolean;
  nbytes(): number;
  requiresGrad(): boolean;
  setRequiresGrad(on: boolean): void;
  /** Backpropagates from this tensor (a one-element one when `gradient` is left out). */
  backward(gradient?: NativeTensor): void;
  /** The gradient accumulated into this leaf tensor, or null. */
  grad(): NativeTensor | null;
  zeroGrad(): void;
  detach(): NativeTensor;
}

/** Live tensor handles of the process and the bytes they hold; V8's external-memory total. */
export interface NativeMemoryStats {
  handles: number;
  bytes: number;
  external: number;
}

export interface NativeTensorStatic {
  fromTypedArray(data: ArrayBufferView, shape: number[], dtype: NativeDType, device: string): NativeTensor;
  memoryStats(): NativeMemoryStats;
}

// ---------------------------------------------------------------------------------------------
// ops
// ---------------------------------------------------------------------------------------------

/** The flat, fully defaulted noise config the native op receives. */
export interface NativeNoiseConfig {
  kind: NoiseKind;
  axis: number;
  strength: number;
  mean: number;
  std: number;
  /** Decimal string of an unsigned 64-bit seed. */
  seed: string;
  /** Decimal string of an unsigned 64-bit Philox offset. */
  offset: string;
  detach: boolean;
}

// ---------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------

/** The flat, fully defaulted configs lib/models hands to the addon. */
/** timm VisionTransformer hyper-parameters (see ViTConfig in models/config.ts). */
export interface NativeViTConfig {
  imageSize: number;
  patchSize: number;
  inChannels: number;
  numClasses: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  dropout: number;
  dropPath: number;
  /** Decimal string of the unsigned 64-bit weight-initialisation seed. */
  initSeed: string;
}

/** torchvision ResNet hyper-parameters (see CNNConfig in models/config.ts). */
export interface NativeCNNConfig {
  block: 'basic' | 'bottleneck';
  layers: number[];
  inChannels: number;
  numClasses: number;
  stem: 'imagenet' | 'small';
  initSeed: string;
}

/** A model's noise site: the injectNoise knobs plus where and when (indices resolved, non-negative). */
export interface NativeModelNoise {
  kind: NoiseKind;
  strength: number;
  mean: number;
  std: number;
  seed: string;
  detach: boolean;
  axis: 'batch' | 'spatial';
  when: 'train' | 'eval' | 'always';
  site: 'attention' | 'block';
  /** Data-parallel training: mix over the global batch of every rank, or each rank's own. */
  scope: 'local' | 'global';
  /** ViT block index. */
  layer: number;
  /** ResNet stage 1..4 and block index within it. */
  stage: number;
  block: number;
}

export interface NativeLoadReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
  mismatched: string[];
}

/** A NoisyViT / NoisyCNN held by the addon. */
export interface NativeModel {
  forward(x: NativeTensor): Promise<NativeTensor>;
  setTraining(on: boolean): void;
  isTraining(): boolean;
  to(device: string): void;
  /** 'cpu' or 'cuda:N'. */
  device(): Device;
  numParameters(): number;
  parameterNames(): string[];
  stateNames(): string[];
  /** [name, shape] of every parameter and buffer, in stateNames() order. */
  stateShapes(): [string, number[]][];
  setNoise(noise: NativeModelNoise): void;
  noiseOffset(): string;
  setNoiseOffset(offset: string): void;
  saveWeights(path: string): Promise<void>;
  loadWeights(path: string, strict: boolean): Promise<NativeLoadReport>;
  dispose(): void;
  isDisposed(): boolean;
}

// ---------------------------------------------------------------------------------------------
// data
// ---------------------------------------------------------------------------------------------

/** The native datasets and loader (see native/napi/data.cc). */
/** An in-memory dataset held by the addon: images [N, C, H, W] (uint8 or float32), int64 labels. */
export interface NativeDataset {
  length(): number;
  /** [C, H, W] */
  shape(): [number, number, number];
  dtype(): 'uint8' | 'float32';
  numClasses(): number;
  get(index: number): { image: NativeTensor; label: number };
  /** A copy of all labels, int64 [N]. */
  labels(): NativeTensor;
}

export interface NativeDatasetStatic {
  new (): NativeDataset;
}

/** A transform step with every size explicit (lib/transforms.ts resolves shorthand and presets). */
export type NativeTransform =
  | { kind: 'randomCrop'; height: number; width: number; padding: number }
  | { kind: 'centerCrop'; height: number; width: number }
  | { kind: 'horizontalFlip' | 'verticalFlip'; p: number }
  | { kind: 'resize'; height: number; width: number; interpolation: 'bilinear' | 'nearest' }
  | { kind: 'normalize'; mean: number[]; std: number[] };

/** The flat, fully defaulted loader options lib/dataloader.ts hands to the addon. */
export interface NativeLoaderConfig {
  batchSize: number;
  order: 'shuffle' | 'sequential' | 'classSorted';
  /** Decimal string of an unsigned 64-bit seed. */
  seed: string;
  dropLast: boolean;
  numWorkers: number;
  prefetch: number;
  transforms: NativeTransform[];
  device: string;
  /** DistributedSampler's deal: this loader takes shard shardRank of shardWorld (absent: 0 of 1). */
  shardRank?: number;
  shardWorld?: number;
}

export interface NativeBatch {
  images: NativeTensor;
  labels: NativeTensor;
  indices: NativeTensor;
  index: number;
  epoch: number;
  /** The first `valid` samples are the shard's own; the rest pad it (repeats of other samples). */
  valid: number;
}

/** The native batch loader: a worker pool assembling transformed batches ahead of the consumer. */
export interface NativeLoader {
  length(): number;
  sampleShape(): [number, number, number];
  /** Starts an epoch (abandoning one in progress); returns the generation that next() and stop() take. */
  start(epoch: number): number;
  /** The next batch of that run, or null at its end; rejects if a newer run superseded it. */
  next(generation: number): Promise<NativeBatch | null>;
  /** next() without waiting: the batch if a worker has finished it, null at the end, undefined if not ready. */
  tryNext(generation: number): NativeBatch | null | undefined;
  stop(generation: number): void;
  /** Ends any pass and releases the worker threads and prefetched batches. Idempotent. */
  dispose(): void;
}

export interface NativeCifarFormat {
  labelBytes: number;
  labelIndex: number;
  numClasses: number;
}

// ---------------------------------------------------------------------------------------------
// train
// ---------------------------------------------------------------------------------------------

/** The flat, fully defaulted trainer options (lib/trainer.ts validates them). */
export interface NativeTrainerOptions {
  optimizer: 'adamw' | 'sgd';
  lr: number;
  weightDecay: number;
  momentum: number;
  nesterov: boolean;
  beta1: number;
  beta2: number;
  eps: number;
  schedule: 'cosine' | 'step' | 'constant';
  warmupSteps: number;
  totalSteps: number;
  minLr: number;
  stepSize: number;
  gamma: number;
  labelSmoothing: number;
  clipGradNorm: number;
  mixedPrecision: boolean;
  /** Decimal string of an unsigned 64-bit seed. */
  seed: string;
  /** Intra-op CPU threads of the trainer's own thread; 0: libtorch's default. */
  threads: number;
}

export interface NativeStepResult {
  loss: number;
  lr: number;
  gradNorm: number;
  correct: number;
  samples: number;
  /** In a group: some rank asked to stop after this step (the `stop` argument). */
  stop: boolean;
}

export interface NativeEvalResult {
  lossSum: number;
  top1: number;
  top5: number;
  samples: number;
  /** 1 where the top-1 prediction was right, per sample of the batch. */
  correct: Uint8Array;
}

export interface NativeTrainer {
  /** `stop`: this rank's wish to stop after the step (in a group, the result's stop is any rank's). */
  step(images: NativeTensor, labels: NativeTensor, stop?: boolean): Promise<NativeStepResult>;
  /**
   * Counts only the first `valid` samples (all when absent). `localNoise`: in a group, mix
   * 'global'-scope noise over this rank's batch only.
   */
  evaluate(images: NativeTensor, labels: NativeTensor, valid?: number, localNoise?: boolean): Promise<NativeEvalResult>;
  lrAt(step: number): number;
  getStep(): number;
  setStep(step: number): void;
  /** The schedule restarts at global step `origin` and spans `total` steps. */
  setScheduleSpan(origin: number, total: number): void;
  /** The global step the schedule's current span starts at. */
  scheduleOrigin(): number;
  noiseOffset(): string;
  setNoiseOffset(offset: string): void;
  saveState(path: string): Promise<void>;
  loadState(path: string): Promise<void>;
  /**
   * Collective: checks the model and options agree with every rank's, adopts rank 0's seeds,
   * parameters and buffers; later steps average gradients over the group. Resolves with the seeds.
   */
  joinGroup(group: NativeProcessGroup): Promise<{ seed: string; noiseSeed: string }>;
}

// ---------------------------------------------------------------------------------------------
// distributed
// ---------------------------------------------------------------------------------------------

/** The flat, fully defaulted options lib/distributed.ts resolves. */
export interface NativeGroupOptions {
  backend: 'gloo' | 'nccl';
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  timeoutMs: number;
}

/** A data-parallel process group (c10d's TCPStore and Gloo or NCCL). */
export interface NativeProcessGroup {
  rank(): number;
  worldSize(): number;
  backend(): 'gloo' | 'nccl';
  /** Collective: reduces a contiguous `tensor` over every rank, in place. */
  allReduce(tensor: NativeTensor, op: 'sum' | 'max'): Promise<void>;
  barrier(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// info
// ---------------------------------------------------------------------------------------------

export interface NativeInfo {
  libtorchVersion: string;
  cuda: boolean;
  cudaBuilt: boolean;
  cudaDevices: string[];
  threads: number;
  blas: string;
  parallel: string;
  cpuKernels: 'avx512' | 'avx2' | 'portable';
  cpuKernelsParallel: boolean;
}

// ---------------------------------------------------------------------------------------------
// the binding
// ---------------------------------------------------------------------------------------------

/** Everything the addon exports, by area. */
export interface NativeBinding {
  // tensor
  NativeTensor: NativeTensorStatic;
  // ops
  injectNoise(x: NativeTensor, config: NativeNoiseConfig, requiresGrad: boolean): NativeTensor;
  /** @internal Test and benchmark support (native/napi/testing.cc); not part of the API. */
  _testing: NativeTestingBinding;
  // models
  createVit(config: NativeViTConfig, noise: NativeModelNoise): NativeModel;
  createResNet(config: NativeCNNConfig, noise: NativeModelNoise): NativeModel;
  // data
  NativeDataset: NativeDatasetStatic;
  NativeLoader: new (dataset: NativeDataset, config: NativeLoaderConfig) => NativeLoader;
  /** Reads only the header of an IDX file (gzip or raw); throws naming the file when it is not one. */
  readIdxHeader(path: string): { typeCode: number; dims: number[] };
  /** An MNIST-format dataset from an idx3 image file and an idx1 label file (gzip or raw). */
  loadIdx(imagesPath: string, labelsPath: string, numClasses: number): Promise<NativeDataset>;
  /** Records in a CIFAR binary file, from its size; throws naming the file when it is not whole records. */
  cifarRecordCount(path: string, format: NativeCifarFormat): number;
  loadCifar(files: string[], format: NativeCifarFormat): Promise<NativeDataset>;
  /** Decoded pixels [n, h, w, c]; `pixels` must not change until the Promise settles. */
  datasetFromPixels(
    pixels: Uint8Array,
    dims: [number, number, number, number],
    labels: Int32Array,
    numClasses: number,
  ): Promise<NativeDataset>;
  /** Copies images (uint8 or float32 [N, C, H, W]) and labels (int64 [N]). */
  datasetFromTensors(images: NativeTensor, labels: NativeTensor, numClasses: number): NativeDataset;
  // train
  NativeTrainer: new (model: NativeModel, options: NativeTrainerOptions) => NativeTrainer;
  // distributed
  /** Joins a group (the rendezvous waits for every rank, off the JS thread). */
  createProcessGroup(options: NativeGroupOptions): Promise<NativeProcessGroup>;
  builtWithNccl: boolean;
  // info
  info(): NativeInfo;
  /** The caching CPU allocator's counters (native/common/cpu_allocator.h). */
  cpuMemory(): NativeCpuMemory;
  /** Frees every block the caching CPU allocator holds for reuse. */
  emptyCpuCache(): void;
}

/** The caching CPU allocator's counters. */
export interface NativeCpuMemory {
  installed: boolean;
  allocatedBytes: number;
  cachedBytes: number;
  capBytes: number;
  hits: number;
  misses: number;
}

/**
 * @internal The addon's `_testing` object: probes for test/ and bench/ only, each running
 * production code (the op, its literal reference, a model's noise site, the trainer's step).
 */
export interface NativeTestingBinding {
  /** The literal formula the fused op is checked against, without autograd. */
  injectNoiseReference(x: NativeTensor, config: NativeNoiseConfig): NativeTensor;
  /** d/dx of sum(op(x) * weight), through the fused op or the reference's autograd. */
  noiseGrad(x: NativeTensor, weight: NativeTensor, config: NativeNoiseConfig, reference: boolean): NativeTensor;
  /** The raw Philox stream the kernels draw from. */
  philox(kind: 'normal' | 'uniform', shape: number[], seed: string, offset: string, dtype: string): NativeTensor;
  /** A model's noise site applied to tokens [B, 1 + gridH*gridW, C] or a feature map [B, C, H, W]. */
  noiseSiteProbe(
    x: NativeTensor,
    noise: NativeModelNoise,
    layout: 'tokens' | 'featureMap',
    offset: string,
    gridH?: number,
    gridW?: number,
  ): NativeTensor;
  /** Timed training steps (zero grads, forward, cross-entropy, backward: the trainer's own); seconds per step. */
  benchTrainStep(model: NativeModel, x: NativeTensor, labels: NativeTensor, iterations: number): Promise<number[]>;
  /** Seconds of each of `iterations` calls of the op on this thread (no autograd; each output freed before the next). */
  benchNoiseOp(x: NativeTensor, config: NativeNoiseConfig, iterations: number): number[];
  /** glibc's heap figures (mallinfo2), or null on another C library. */
  mallocStats(): { arenaBytes: number; mmappedBytes: number; inUseBytes: number; freeHeldBytes: number } | null;
  /** glibc's malloc_trim(0): whether memory went back to the system. */
  mallocTrim(): boolean;
  /** A noise site alone on tokens [B, 1 + gridH*gridW, C], forward and backward; seconds per iteration. */
  benchNoiseSite(
    x: NativeTensor,
    noise: NativeModelNoise,
    gridH: number,
    gridW: number,
    iterations: number,
  ): Promise<number[]>;
}

function explainLoadFailure(err: Error): Error {
  const msg = String(err.message);
  const missing = /(lib[\w.+-]+\.so[\w.]*)/.exec(msg);
  if (missing && /(torch|c10|gomp|blas|cuda|cudart|nvrtc)/i.test(missing[1])) {
    return new Error(
      `noisynn-native could not load its native addon: the shared library ${missing[1]} was not found. ` +
        'Install the libtorch runtime it was built against: on Debian/Ubuntu `sudo apt-get install libtorch1.13 libopenblas0-openmp` ' +
        '(or `bash scripts/setup.sh` in a checkout); for another libtorch, put its lib/ folder on LD_LIBRARY_PATH. ' +
        `Original error: ${msg}`,
    );
  }
  if (/No native build was found/.test(msg)) {
    return new Error(
      'noisynn-native has no native build for this platform: run `npm run build:native` (needs cmake, g++ and libtorch-dev) ' +
        `or install a release with prebuilt binaries. Original error: ${msg}`,
    );
  }
  if (/undefined symbol/.test(msg)) {
    return new Error(
      'noisynn-native was built against a different libtorch version than the one now installed: rebuild with ' +
        `\`npm run build:native\` or install the matching libtorch. Original error: ${msg}`,
    );
  }
  return err;
}

// libgomp reads its settings once, when the addon loads it. Its default lets idle OpenMP threads
// spin, which starves the data-loader threads and Node's own pool on small machines (measured on
// 2 cores: the training loop ran 5x slower). Waiting passively costs a futex wake per parallel
// region instead. A user's own OMP_WAIT_POLICY wins.
if (process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'PASSIVE';

function load(): NativeBinding {
  try {
    return loadAddon(path.join(__dirname, '..')) as NativeBinding;
  } catch (err) {
    throw explainLoadFailure(err as Error);
  }
}

export const binding: NativeBinding = load();
