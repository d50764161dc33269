// The model for a dataset: each family's default for an image shape, and the check that a
// variant takes a dataset's images.
import { MODEL_VARIANTS, ModelVariantName, variantInputs } from './variants';

// The model each family uses for a dataset's image shape ([C, H, W] as 'CxHxW').
const DEFAULT_MODELS: Record<'vit' | 'cnn', Record<string, ModelVariantName>> = {
  vit: { '1x28x28': 'vit_mini_patch4_28', '3x32x32': 'vit_mini_patch4_32', '3x224x224': 'vit_tiny_patch16_224' },
  cnn: { '1x28x28': 'resnet18_small_28', '3x32x32': 'resnet18_small_32', '3x224x224': 'resnet18' },
};

/** The default model of a family for a dataset's image shape [C, H, W], or null when none fits. */
export function defaultModelFor(family: 'vit' | 'cnn', imageShape: readonly number[]): ModelVariantName | null {
  return DEFAULT_MODELS[family][imageShape.join('x')] ?? null;
}

/**
 * Checks that a variant takes the dataset's images.
 * @throws RangeError naming both shapes when it does not.
 */
export function checkModelFitsData(name: ModelVariantName, imageShape: readonly number[]): void {
  const v = MODEL_VARIANTS[name];
  const [c, h, w] = imageShape;
  const { inChannels } = variantInputs(v);
  if (inChannels !== c) {
    throw new RangeError(
      `Model ${name} takes ${inChannels}-channel images but the dataset's have ${c} channel${c === 1 ? '' : 's'} (shape [${imageShape.join(', ')}])`,
    );
  }
  if (v.family === 'vit' && (h !== v.imageSize || w !== v.imageSize)) {
    throw new RangeError(`Model ${name} takes ${v.imageSize}x${v.imageSize} images but the dataset's are ${h}x${w}`);
  }
}
