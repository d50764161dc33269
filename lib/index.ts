// noisynn-native: NoisyNN vision models on libtorch for Node.js. The public API.
export { Tensor } from './tensor';
export type { DType, Device, FromTypedArrayOptions, TypedArrayLike } from './tensor';
export { tidy, keep, memory } from './scope';
export type { MemoryInfo } from './scope';
export { DEFAULT_STRENGTH, injectNoise, NOISE_KINDS } from './noise';
export type { NoiseConfig, NoiseKind } from './noise';
export { info, cpuMemory, emptyCache } from './info';
export { OFFICIAL_PROTOCOLS } from './defaults';
export type { OfficialProtocol } from './defaults';
export type { Info, CpuMemory } from './info';
// models
export {
  NoisyModel,
  NoisyViT,
  NoisyCNN,
  createModel,
  listModels,
  MODEL_VARIANTS,
  MODEL_NOISE_PRESETS,
  OFFICIAL_CNN_NOISE,
  OFFICIAL_VIT_NOISE,
} from './models';
export type {
  ViTConfig,
  CNNConfig,
  ViTArchitecture,
  CNNArchitecture,
  ResolvedViTConfig,
  ResolvedCNNConfig,
  ModelNoiseConfig,
  ModelNoiseOption,
  ModelNoisePreset,
  ResolvedModelNoise,
  ModelVariant,
  ViTVariant,
  CNNVariant,
  ModelVariantName,
  ModelFor,
  ViTVariantName,
  CNNVariantName,
  LoadWeightsOptions,
  LoadWeightsReport,
} from './models';
// data
export {
  Dataset,
  FashionMNIST,
  MNIST,
  CIFAR10,
  CIFAR100,
  ImageFolder,
  TensorDataset,
  FASHION_MNIST_ROOT,
} from './datasets';
export type {
  Sample,
  Split,
  MNISTOptions,
  CIFAR10Options,
  CIFAR100Options,
  ImageFolderOptions,
  SkippedImage,
  TensorDatasetOptions,
} from './datasets';
export { DataLoader, ORDERS } from './dataloader';
export type { Batch, DataLoaderOptions, Order } from './dataloader';
export { transforms, NORMALIZE_PRESETS, TRANSFORM_KINDS } from './transforms';
export type { Transform, NormalizePreset, ChannelStats, Size } from './transforms';
// training, the leakage audit and the comparison
export { Trainer } from './trainer';
export type {
  TrainerOptions,
  OptimizerOptions,
  ScheduleOptions,
  ResolvedTrainerOptions,
  ResolvedOptimizerOptions,
  ResolvedScheduleOptions,
  FitOptions,
  FitResult,
  StepResult,
  EvalResult,
  StepEvent,
  EpochEvent,
} from './trainer';
export type { DistributedBackend, DistributedOption, DistributedOptions, Shard } from './distributed';
export { auditLeakage } from './audit';
export type { AuditOptions, AuditResult, PairedTest } from './audit';
export {
  binomialUpperTail,
  holm,
  meanInterval,
  minimumDetectableDifference,
  normalQuantile,
  pairedProportionTest,
  pairedTTest,
  studentTCdf,
  studentTQuantile,
} from './statistics';
export type { MeanInterval, PairedProportionTest, PairedTTest } from './statistics';
export {
  runComparison,
  formatComparisonTable,
  COMPARISON_DEFAULTS,
  QUICK_COMPARISON,
  CNN_CPU_COMPARISON,
  CNN_CPU_QUICK_COMPARISON,
} from './compare';
export type {
  ComparisonOptions,
  ComparisonResult,
  ComparisonConfig,
  ComparisonRun,
  ComparisonAudit,
  KindSummary,
  NoiseEffect,
  AuditSummary,
  Spread,
  RunInfo,
} from './compare';
