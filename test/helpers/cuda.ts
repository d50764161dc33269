// What the device errors say on this build when CUDA cannot be used (written out here, not taken
// from the library, so the tests check the library's words).
import { info } from '../../lib';

export const CUDA_UNAVAILABLE = info().cudaBuilt
  ? 'no CUDA device is visible (this build has the CUDA kernels: check the NVIDIA driver and CUDA_VISIBLE_DEVICES; see noisynn info)'
  : 'this build is CPU-only (its libtorch has no CUDA; see noisynn info)';
