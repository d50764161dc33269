// NoisyViT and NoisyCNN: the model classes, their noise site, their configs and the registry of named variants.
export { NoisyCNN, NoisyModel, NoisyViT } from './model';
export type { LoadWeightsOptions, LoadWeightsReport } from './model';
export { createModel } from './create';
export type { ModelFor } from './create';
export { MODEL_NOISE_PRESETS } from './noise-site';
export type { ModelNoiseConfig, ModelNoiseOption, ModelNoisePreset, ResolvedModelNoise } from './noise-site';
export type {
  CNNArchitecture,
  CNNConfig,
  ResolvedCNNConfig,
  ResolvedViTConfig,
  ViTArchitecture,
  ViTConfig,
} from './config';
export { listModels, MODEL_VARIANTS, variantInputs } from './variants';
export type {
  CNNVariant,
  CNNVariantName,
  ModelVariant,
  ModelVariantName,
  ViTVariant,
  ViTVariantName,
} from './variants';
export { checkModelFitsData, defaultModelFor } from './for-data';
