// Published parameter counts of the registered variants, for the tests that check the native
// models and `noisynn models` against them.
import * as fs from 'fs';
import * as path from 'path';

/**
 * Trainable parameters of the timm ViTs and torchvision ResNets of the same name (ImageNet-1k
 * heads), as timm and torchvision report them, and of this package's small-image variants
 * (10 classes), measured once and pinned.
 */
export const PARAMETER_COUNTS: Record<string, number> = {
  vit_tiny_patch16_224: 5_717_416,
  vit_tiny_patch16_384: 5_790_376,
  vit_small_patch16_224: 22_050_664,
  vit_small_patch16_384: 22_196_584,
  vit_base_patch16_224: 86_567_656,
  vit_base_patch16_384: 86_859_496,
  vit_large_patch16_224: 304_326_632,
  vit_large_patch16_384: 304_715_752,
  vit_mini_patch4_28: 205_066,
  vit_mini_patch7_28: 205_066,
  vit_mini_patch4_32: 208_074,
  vit_tiny_patch4_32: 5_362_762,
  resnet18: 11_689_512,
  resnet34: 21_797_672,
  resnet50: 25_557_032,
  resnet101: 44_549_160,
  resnet152: 60_192_808,
  resnet18_small_28: 11_172_810,
  resnet18_small_32: 11_173_962,
};

/** The count each MODEL_VARIANTS entry's doc comment states ('(5,717,416 parameters)'), by name. */
export function documentedParameterCounts(): Record<string, number> {
  const source = fs.readFileSync(path.join(__dirname, '..', '..', 'lib', 'models', 'variants.ts'), 'utf8');
  const out: Record<string, number> = {};
  for (const m of source.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(\w+):/g)) {
    const count = /([\d,]+) parameters/.exec(m[1]);
    if (count) out[m[2]] = Number(count[1].replace(/,/g, ''));
  }
  return out;
}
