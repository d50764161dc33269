// createModel: builds a registered variant by name (NoisyViT or NoisyCNN by its family).
import { expectOptions } from '../validate';
import type { CNNConfig, ViTConfig } from './config';
import { NoisyCNN, NoisyViT } from './model';
import { lookupVariant, ModelVariantName, ViTVariantName } from './variants';

/** The class a variant name builds: NoisyViT for ViT names, NoisyCNN for ResNet names. */
export type ModelFor<N extends ModelVariantName> = N extends ViTVariantName ? NoisyViT : NoisyCNN;

/**
 * Builds a registered variant by name, optionally overriding any config field.
 *
 * @param name One of {@link listModels}().
 * @param overrides Fields of {@link ViTConfig} or {@link CNNConfig} (by the variant's family), e.g. numClasses or noise.
 * @throws RangeError for an unknown name (the message lists the known ones) or a bad override.
 * @example
 * const model = createModel('vit_mini_patch4_28', { noise: 'official' });
 */
export function createModel<N extends ModelVariantName>(
  name: N,
  overrides?: N extends ViTVariantName ? ViTConfig : CNNConfig,
): ModelFor<N>;
export function createModel(name: ModelVariantName, overrides?: ViTConfig | CNNConfig): NoisyViT | NoisyCNN {
  const { name: variantName, variant } = lookupVariant(name);
  const config = { ...variant.config, ...expectOptions(overrides, 'overrides') };
  return variant.family === 'vit' ? NoisyViT._build(variantName, config) : NoisyCNN._build(variantName, config);
}
