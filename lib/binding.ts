// The one place that loads the native addon (node-gyp-build) and types its surface.
import * as path from 'path';

/** A libtorch tensor owned by the addon. Public code wraps it in `Tensor`. */
export interface NativeTensor {
  shape(): number[];
  dtype(): string;
  device(): string;
  toTypedArray(): Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
  to(device: string, dtype?: string): NativeTensor;
  dispose(): void;
  isDisposed(): boolean;
  nbytes(): number;
}

export interface NativeTensorStatic {
  fromTypedArray(data: ArrayBufferView, shape: number[], dtype: string, device: string): NativeTensor;
}

/** The flat, fully defaulted noise config the native op receives. */
export interface NativeNoiseConfig {
  kind: string;
  axis: number;
  strength: number;
  mean: number;
  std: number;
  /** Decimal string of an unsigned 64-bit seed. */
  seed: string;
  /** Decimal string of an unsigned 64-bit Philox offset. */
  offset: string;
  detach: boolean;
}

export interface NativeInfo {
  libtorchVersion: string;
  cuda: boolean;
  cudaBuilt: boolean;
  cudaDevices: string[];
  threads: number;
  blas: string;
  parallel: string;
}

export interface NativeBinding {
  NativeTensor: NativeTensorStatic;
  info(): NativeInfo;
  injectNoise(x: NativeTensor, config: NativeNoiseConfig, requiresGrad: boolean): NativeTensor;
  // Test and benchmark support: the literal formula, raw Philox streams, autograd probes.
  injectNoiseReference(x: NativeTensor, config: NativeNoiseConfig): NativeTensor;
  philox(kind: 'normal' | 'uniform', shape: number[], seed: string, offset: string, dtype: string): NativeTensor;
  /** Sum of (output * weight) backpropagated through the fused op or the reference: returns d/dx. */
  noiseGrad(x: NativeTensor, weight: NativeTensor, config: NativeNoiseConfig, reference: boolean): NativeTensor;
  setNumThreads(n: number): void;
  // --- models (issue 3): declare the native model surface here ---
  // --- data (issue 4): declare the native data surface here ---
  // --- train (issue 5): declare the native training surface here ---
}

function explainLoadFailure(err: Error): Error {
  const msg = String(err.message);
  const missing = /(lib[\w.+-]+\.so[\w.]*)/.exec(msg);
  if (missing && /(torch|c10|gomp|blas|cuda|cudart|nvrtc)/i.test(missing[1])) {
    return new Error(
      `noisynn-native could not load its native addon: the shared library ${missing[1]} was not found. ` +
        'Install the libtorch runtime it was built against: on Debian/Ubuntu `sudo apt-get install libtorch1.13 libopenblas0-openmp` ' +
        '(or `bash scripts/setup.sh` in a checkout); for another libtorch, put its lib/ folder on LD_LIBRARY_PATH. ' +
        `Original error: ${msg}`,
    );
  }
  if (/No native build was found/.test(msg)) {
    return new Error(
      'noisynn-native has no native build for this platform: run `npm run build:native` (needs cmake, g++ and libtorch-dev) ' +
        `or install a release with prebuilt binaries. Original error: ${msg}`,
    );
  }
  if (/undefined symbol/.test(msg)) {
    return new Error(
      'noisynn-native was built against a different libtorch version than the one now installed: rebuild with ' +
        `\`npm run build:native\` or install the matching libtorch. Original error: ${msg}`,
    );
  }
  return err;
}

function load(): NativeBinding {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return nodeGypBuild(path.join(__dirname, '..')) as NativeBinding;
  } catch (err) {
    throw explainLoadFailure(err as Error);
  }
}

export const binding: NativeBinding = load();
