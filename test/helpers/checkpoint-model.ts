// The model and data of native/fuzz/fuzz_checkpoint.cc (and of the legacy optimizer-state
// fixture): the optimizer state they produce loads there, so they are defined once.
import { NoisyViT, TensorDataset } from '../../lib';

export const checkpointModel = (): NoisyViT =>
  NoisyViT.create({
    imageSize: 8,
    patchSize: 4,
    inChannels: 1,
    numClasses: 3,
    embedDim: 8,
    depth: 1,
    numHeads: 2,
    noise: 'none',
    initSeed: 1,
  });

export const checkpointData = (): TensorDataset =>
  new TensorDataset({
    images: Uint8Array.from({ length: 8 * 64 }, (_, i) => (i * 37) % 256),
    shape: [8, 1, 8, 8],
    labels: [0, 1, 2, 0, 1, 2, 0, 1],
  });
