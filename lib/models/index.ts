// NoisyViT and NoisyCNN: the model classes, their noise site, their configs and the registry of named variants.
export { NoisyCNN, NoisyModel, NoisyViT } from './model';
export type { LoadWeightsOptions, LoadWeightsReport } from './model';
export { createModel } from './create';
export type { ModelFor } from './create';
export { MODEL_NOISE_PRESETS, OFFICIAL_CNN_NOISE, OFFICIAL_VIT_NOISE, presetNoiseConfig } from './noise-site';
export type {
  ModelNoiseConfig,
  ModelNoiseOption,
  ModelNoisePreset,
  NoiseSiteArchitecture,
  ResolvedModelNoise,
} from './noise-site';
export type {
  CNNArchitecture,
  CNNConfig,
  ResolvedCNNConfig,
  ResolvedViTConfig,
  ViTArchitecture,
  ViTConfig,
} from './config';
export { listModels, MODEL_VARIANTS, variantInputs, variantNoiseSite } from './variants';
export type {
  CNNVariant,
  CNNVariantName,
  ModelVariant,
  ModelVariantName,
  ViTVariant,
  ViTVariantName,
} from './variants';
export { checkModelFitsData, defaultModelFor } from './for-data';
