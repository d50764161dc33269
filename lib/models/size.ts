// How large a model of a config would be, known before the addon allocates it: a config whose
// weights alone would not fit in this machine's memory is refused with a RangeError (a depth of
// 1e6 was otherwise OOM-killed at 24 GB).
import * as os from 'os';
import type { NativeCNNConfig, NativeViTConfig } from '../binding';

/** Trainable parameters of timm's VisionTransformer with this config (what numParameters() reports). */
export function vitParameterCount(c: NativeViTConfig): number {
  const d = c.embedDim;
  const hidden = Math.trunc(d * c.mlpRatio);
  const tokens = (c.imageSize / c.patchSize) ** 2 + 1;
  const block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * hidden + hidden) + (hidden * d + d);
  const embed = c.inChannels * c.patchSize * c.patchSize * d + d + d + tokens * d;
  return embed + c.depth * block + 2 * d + (d * c.numClasses + c.numClasses);
}

/** Trainable parameters of torchvision's ResNet with this config (BatchNorm statistics excluded). */
export function resnetParameterCount(c: NativeCNNConfig): number {
  const expansion = c.block === 'basic' ? 1 : 4;
  let count = c.inChannels * 64 * (c.stem === 'imagenet' ? 49 : 9) + 2 * 64;
  let inplanes = 64;
  c.layers.forEach((blocks, stage) => {
    const planes = 64 * 2 ** stage;
    const stride = stage === 0 ? 1 : 2;
    const out = planes * expansion;
    if (stride !== 1 || inplanes !== out) count += inplanes * out + 2 * out;
    const first = c.block === 'basic' ? 9 * inplanes * planes : inplanes * planes;
    const rest = c.block === 'basic' ? 9 * out * planes : out * planes;
    const body =
      c.block === 'basic'
        ? 2 * planes + 9 * planes * planes + 2 * planes
        : 2 * planes + 9 * planes * planes + 2 * planes + planes * out + 2 * out;
    count += first + body + (blocks - 1) * (rest + body);
    inplanes = out;
  });
  return count + 512 * expansion * c.numClasses + c.numClasses;
}

function gigabytes(bytes: number): string {
  return bytes >= 1e12 ? `${(bytes / 1e12).toPrecision(3)} TB` : `${(bytes / 1e9).toFixed(1)} GB`;
}

/**
 * Refuses a model whose float32 weights alone (4 bytes a parameter; training needs about 4x that
 * for gradients and optimizer moments) exceed this machine's memory.
 * @param knobs The config fields that set the size, named in the message.
 * @throws RangeError naming the parameter count, the bytes and the memory.
 */
export function expectModelFits(family: string, parameters: number, knobs: string): void {
  const bytes = 4 * parameters;
  const memory = os.totalmem();
  if (Number.isFinite(bytes) && bytes <= memory) return;
  throw new RangeError(
    `A ${family} of this config would have ${parameters.toPrecision(3)} parameters (${gigabytes(bytes)} of float32 weights), ` +
      `more than this machine's memory (${gigabytes(memory)}); lower ${knobs}`,
  );
}
