// noisynn-native: NoisyNN vision models on libtorch for Node.js. The public API.
export { Tensor } from './tensor';
export type { DType, Device, FromTypedArrayOptions, TypedArrayLike } from './tensor';
export { injectNoise, NOISE_KINDS } from './noise';
export type { NoiseConfig, NoiseKind } from './noise';
export { info } from './info';
export type { Info } from './info';
// models (issue 3)
// data (issue 4)
// train (issue 5)
