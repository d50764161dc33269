// info(): what this installation runs on (versions, BLAS, threads, CUDA).
import { binding } from './binding';
import { loadedAddon } from './native-loader';

export interface Info {
  /** This package's version. */
  version: string;
  /** The libtorch the addon is linked against, e.g. '1.13.1'. */
  libtorchVersion: string;
  /** The BLAS library the process loaded (decides CPU matmul speed). */
  blas: string;
  /** True when `blas` is the slow reference BLAS (install libopenblas0-openmp). */
  slowBlas: boolean;
  /** Intra-op CPU threads libtorch uses. */
  threads: number;
  /**
   * The vector instructions the noise op's CPU kernels use for their random numbers, chosen at
   * load time for this CPU; all three give the same numbers.
   */
  cpuKernels: 'avx512' | 'avx2' | 'portable';
  /** Whether the addon was compiled with the CUDA kernels. */
  cudaBuilt: boolean;
  /** Whether a CUDA device can be used now. */
  cuda: boolean;
  /** Names of the visible GPUs. */
  gpus: string[];
  /** The addon file loaded: built from source here, or the prebuilt flavour matched to a libtorch. */
  addon: { file: string; source: 'build' | 'prebuild'; libtorch: string | null };
  /** Warnings a user should act on. */
  warnings: string[];
}

/**
 * Reports the package and runtime configuration.
 *
 * @example
 * import { info } from 'noisynn-native';
 * console.log(info().blas); // 'OpenBLAS (/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3)'
 */
export function info(): Info {
  const n = binding.info();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('../package.json') as { version: string };
  const slowBlas = /^reference BLAS/.test(n.blas);
  const warnings: string[] = [];
  if (slowBlas) {
    warnings.push(
      'libtorch is using the reference BLAS, which is ~25x slower than OpenBLAS: run `sudo apt-get install libopenblas0-openmp`',
    );
  }
  if (!n.cpuKernelsParallel) {
    warnings.push(
      "the noise op's CPU kernels were compiled without -fopenmp while libtorch parallelizes with OpenMP, so they run on one thread: rebuild the addon with this package's CMakeLists.txt or binding.gyp, which add it",
    );
  }
  if (!n.cudaBuilt) warnings.push('this build is CPU-only (the libtorch it was built against has no CUDA)');
  else if (!n.cuda) warnings.push('built with CUDA, but no usable GPU was found');
  return {
    version: pkg.version,
    libtorchVersion: n.libtorchVersion,
    blas: n.blas,
    slowBlas,
    threads: n.threads,
    cpuKernels: n.cpuKernels,
    cudaBuilt: n.cudaBuilt,
    cuda: n.cuda,
    gpus: n.cudaDevices,
    addon: {
      file: loadedAddon?.file ?? 'unknown',
      source: loadedAddon?.source ?? 'build',
      libtorch: loadedAddon?.libtorch ? `${loadedAddon.libtorch.version} at ${loadedAddon.libtorch.root}` : null,
    },
    warnings,
  };
}

/**
 * Why a CUDA device cannot be used in this process, as the end of a sentence: a CPU-only build, or a
 * CUDA build that sees no GPU. The same words as the addon's own device errors.
 */
export function cudaUnavailableReason(): string {
  return binding.info().cudaBuilt
    ? 'no CUDA device is visible (this build has the CUDA kernels: check the NVIDIA driver and CUDA_VISIBLE_DEVICES; see noisynn info)'
    : 'this build is CPU-only (its libtorch has no CUDA; see noisynn info)';
}

/** The caching CPU allocator that serves libtorch's CPU tensors (see {@link cpuMemory}). */
export interface CpuMemory {
  /** False when NOISYNN_CPU_ALLOCATOR=system chose glibc's allocator instead. */
  installed: boolean;
  /** Bytes in live tensors (rounded up to the allocator's size classes). */
  allocatedBytes: number;
  /** Bytes of freed blocks kept for reuse. */
  cachedBytes: number;
  /** The most the cache keeps (NOISYNN_CPU_CACHE_MB; default 1/8 of physical memory, at most 4 GB). */
  capBytes: number;
  /** Allocations served from the cache, and those that went to the system. */
  hits: number;
  misses: number;
}

/**
 * The caching CPU allocator's counters. Freed tensor memory is kept by size class and reused, so
 * training steps do not page-fault fresh memory every time; the cache is bounded by `capBytes` and
 * size classes idle for 10 s are given back. What it gives back leaves the process: blocks of
 * 256 KB or more are its own mappings, and glibc is asked to return the pages of smaller ones.
 *
 * @example
 * const { cachedBytes, hits, misses } = cpuMemory();
 */
export function cpuMemory(): CpuMemory {
  return binding.cpuMemory();
}

/** Gives every cached block back to the system now (tensors in use are not affected). */
export function emptyCache(): void {
  binding.emptyCpuCache();
}
