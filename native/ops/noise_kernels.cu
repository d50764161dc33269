// CUDA kernels of the noise op: fused passes over x, random numbers from the Philox stream
// shared with the CPU (common/philox.h), launch geometry chosen from the tensor's shape.
//
// Built with -fmad=false and IEEE division / square root (CMakeLists.txt, scripts/torch-config.js)
// so the Box-Muller arithmetic rounds exactly as the CPU build does: one (seed, offset), the same
// normals on both devices. scripts/check-cuda.sh checks the PTX for contracted or approximate math.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "common/philox.h"
#include "ops/noise_kernels.h"

namespace noisynn {
namespace cuda {

namespace {

// NoiseKind values (ops/noise.h), repeated here because that header pulls in ATen.
constexpr int kNone = 0, kLinear = 1, kOptimal = 2, kGaussian = 3, kSaltPepper = 4;

template <typename T>
struct Acc {
  using type = T;
};
template <>
struct Acc<__half> {
  using type = float;
};
template <>
struct Acc<__nv_bfloat16> {
  using type = float;
};

template <typename T>
__device__ __forceinline__ typename Acc<T>::type load(const T* p) {
  return *p;
}
template <>
__device__ __forceinline__ float load<__half>(const __half* p) {
  return __half2float(*p);
}
template <>
__device__ __forceinline__ float load<__nv_bfloat16>(const __nv_bfloat16* p) {
  return __bfloat162float(*p);
}

template <typename T>
__device__ __forceinline__ void store(T* p, typename Acc<T>::type v) {
  *p = v;
}
template <>
__device__ __forceinline__ void store<__half>(__half* p, float v) {
  *p = __float2half(v);
}
template <>
__device__ __forceinline__ void store<__nv_bfloat16>(__nv_bfloat16* p, float v) {
  *p = __float2bfloat16(v);
}

constexpr int kThreads = 256;

// Flat kernels index elements with 32-bit arithmetic when the tensor allows it (a 64-bit division
// costs several times a 32-bit one), else 64-bit.
template <typename F>
int by_index(int64_t n, F f) {
  if (n < (int64_t{1} << 31)) return f(uint32_t{0});
  return f(uint64_t{0});
}

inline unsigned flat_grid(int64_t work) {
  const int64_t blocks = (work + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > (1 << 20) ? (1 << 20) : blocks));  // grid-stride beyond
}

inline unsigned clamp_grid(int64_t v, int64_t hi) { return static_cast<unsigned>(v < 1 ? 1 : (v > hi ? hi : v)); }

// ---- linear: out_i = x_i + a (x_n - x_i), n = i+1 (forward) or i-1 (backward), mod k ---------------
// One thread per element, whatever the axis: the neighbour is `inner` elements away, or wraps.
template <typename T, typename I>
__global__ void linear_kernel(const T* __restrict__ x, T* __restrict__ out, I n, I k, I inner, float a_f, double a_d,
                              bool transpose) {
  using A = typename Acc<T>::type;
  const A a = sizeof(A) == sizeof(double) ? static_cast<A>(a_d) : static_cast<A>(a_f);
  const I wrap = (k - 1) * inner;
  for (I e = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<I>(gridDim.x) * blockDim.x) {
    const I i = (e / inner) % k;
    const I nb = transpose ? (i == 0 ? e + wrap : e - inner) : (i + 1 == k ? e - wrap : e + inner);
    const A v = load(x + e);
    store(out + e, v + a * (load(x + nb) - v));
  }
}

// ---- optimal: out_i = (x_i + sum_j x_j) / (k + 1) ------------------------------------------------
// Wide geometry (inner >= 32 and enough column tiles to fill the GPU): one fused kernel, block
// (32, 8) over 32 columns; the 8 row-threads split k, reduce in shared memory, then write their
// rows (the re-read of the block's own tile hits L2).
constexpr int kColThreads = 32;
constexpr int kRowThreads = 8;

template <typename T>
__global__ void optimal_wide_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t outer, int64_t k,
                                    int64_t inner) {
  using A = typename Acc<T>::type;
  __shared__ A partial[kRowThreads][kColThreads];
  const int64_t j = blockIdx.x * static_cast<int64_t>(kColThreads) + threadIdx.x;
  const A inv = A(1) / static_cast<A>(k + 1);
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    const T* xo = x + o * k * inner;
    T* oo = out + o * k * inner;
    A s = A(0);
    if (j < inner) {
      for (int64_t i = threadIdx.y; i < k; i += kRowThreads) s += load(xo + i * inner + j);
    }
    partial[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    A total = A(0);
#pragma unroll
    for (int r = 0; r < kRowThreads; ++r) total += partial[r][threadIdx.x];
    if (j < inner) {
      for (int64_t i = threadIdx.y; i < k; i += kRowThreads)
        store(oo + i * inner + j, (load(xo + i * inner + j) + total) * inv);
    }
    __syncthreads();
  }
}

// Narrow geometry (few or short columns: the last axis, a ResNet row of 7, a 1-D tensor): the sums
// along the axis by a column kernel whose block shape follows `inner` (cx columns x ry row-threads,
// cx * ry = 256) and which may split k into chunks over grid.z; then the chunk partials are added
// in a fixed order (deterministic), then one flat pass applies them.
struct Narrow {
  int cx = 1, ry = kThreads;
  int64_t tiles = 1, chunks = 1, rows_per_chunk = 1;
};

inline Narrow narrow_shape(int64_t outer, int64_t k, int64_t inner) {
  Narrow s;
  while (s.cx < kColThreads && s.cx < inner) s.cx *= 2;
  s.ry = kThreads / s.cx;
  s.tiles = (inner + s.cx - 1) / s.cx;
  const int64_t blocks = s.tiles * (outer < 65535 ? outer : 65535);
  const int64_t want = (2048 + blocks - 1) / blocks;  // enough blocks to fill a large GPU
  const int64_t most = (k + s.ry - 1) / s.ry;         // every chunk keeps each row-thread busy
  s.chunks = want < 1 ? 1 : (want > most ? most : want);
  if (s.chunks > 1024) s.chunks = 1024;
  s.rows_per_chunk = (k + s.chunks - 1) / s.chunks;
  s.chunks = (k + s.rows_per_chunk - 1) / s.rows_per_chunk;
  return s;
}

template <typename T>
__global__ void column_sums_kernel(const T* __restrict__ x, typename Acc<T>::type* __restrict__ partial, int64_t outer,
                                   int64_t k, int64_t inner, int64_t rows_per_chunk) {
  using A = typename Acc<T>::type;
  __shared__ A sh[kThreads];
  const int cx = blockDim.x, ry = blockDim.y;
  const int t = threadIdx.y * cx + threadIdx.x;
  const int64_t j = blockIdx.x * static_cast<int64_t>(cx) + threadIdx.x;
  const int64_t r0 = blockIdx.z * rows_per_chunk;
  const int64_t r1 = r0 + rows_per_chunk < k ? r0 + rows_per_chunk : k;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    const T* xo = x + o * k * inner;
    A s = A(0);
    if (j < inner) {
      for (int64_t i = r0 + threadIdx.y; i < r1; i += ry) s += load(xo + i * inner + j);
    }
    sh[t] = s;
    __syncthreads();
    for (int stride = ry / 2; stride > 0; stride /= 2) {  // a tree over the row-threads, fixed order
      if (threadIdx.y < stride) sh[t] += sh[t + stride * cx];
      __syncthreads();
    }
    if (threadIdx.y == 0 && j < inner) partial[(blockIdx.z * outer + o) * inner + j] = sh[threadIdx.x];
    __syncthreads();
  }
}

template <typename A>
__global__ void sum_chunks_kernel(const A* __restrict__ partial, A* __restrict__ sums, int64_t columns,
                                  int64_t chunks) {
  for (int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; c < columns;
       c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    A s = A(0);
    for (int64_t q = 0; q < chunks; ++q) s += partial[q * columns + c];
    sums[c] = s;
  }
}

template <typename T, typename I>
__global__ void optimal_apply_kernel(const T* __restrict__ x, const typename Acc<T>::type* __restrict__ sums,
                                     T* __restrict__ out, I n, I k, I inner) {
  using A = typename Acc<T>::type;
  const A inv = A(1) / static_cast<A>(k + 1);
  for (I e = blockIdx.x * static_cast<I>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<I>(gridDim.x) * blockDim.x) {
    const I q = e / inner;
    const I column = (q / k) * inner + (e - q * inner);
    store(out + e, (load(x + e) + sums[column]) * inv);
  }
}

bool optimal_is_wide(const Launch& l) {
  return l.inner >= kColThreads && ((l.inner + kColThreads - 1) / kColThreads) * l.outer >= 256;
}

template <typename T>
size_t optimal_workspace(const Launch& l) {
  using A = typename Acc<T>::type;
  if (optimal_is_wide(l)) return 0;
  const Narrow s = narrow_shape(l.outer, l.k, l.inner);
  const int64_t columns = l.outer * l.inner;
  return static_cast<size_t>(columns * (s.chunks + (s.chunks > 1 ? 1 : 0))) * sizeof(A);
}

template <typename T>
int launch_optimal(const T* x, T* out, const Launch& l, cudaStream_t stream) {
  using A = typename Acc<T>::type;
  if (optimal_is_wide(l)) {
    dim3 block(kColThreads, kRowThreads);
    dim3 grid(clamp_grid((l.inner + kColThreads - 1) / kColThreads, 2147483647), clamp_grid(l.outer, 65535));
    optimal_wide_kernel<T><<<grid, block, 0, stream>>>(x, out, l.outer, l.k, l.inner);
    return 0;
  }
  if (l.workspace == nullptr) return static_cast<int>(cudaErrorInvalidValue);
  const Narrow s = narrow_shape(l.outer, l.k, l.inner);
  const int64_t columns = l.outer * l.inner;
  A* partial = static_cast<A*>(l.workspace);
  A* sums = s.chunks > 1 ? partial + s.chunks * columns : partial;
  dim3 block(s.cx, s.ry);
  dim3 grid(clamp_grid(s.tiles, 2147483647), clamp_grid(l.outer, 65535), static_cast<unsigned>(s.chunks));
  column_sums_kernel<T><<<grid, block, 0, stream>>>(x, partial, l.outer, l.k, l.inner, s.rows_per_chunk);
  if (s.chunks > 1) sum_chunks_kernel<A><<<flat_grid(columns), kThreads, 0, stream>>>(partial, sums, columns, s.chunks);
  const int64_t n = l.outer * l.k * l.inner;
  return by_index(n, [&](auto tag) {
    using I = decltype(tag);
    optimal_apply_kernel<T, I><<<flat_grid(n), kThreads, 0, stream>>>(x, sums, out, static_cast<I>(n),
                                                                      static_cast<I>(l.k), static_cast<I>(l.inner));
    return 0;
  });
}

// ---- the random kinds' numbers under a batch interleave (Launch::per_sample, batch_rank,
// batch_world): each thread owns four local elements; without an interleave (world 1) they are
// one Philox block, otherwise each takes its global element's block (usually still one block:
// the four share it whenever per_sample is a multiple of four). -----------------------------------
struct Interleave {
  int64_t per_sample, rank, world;
};

__device__ __forceinline__ int64_t global_element(int64_t e, const Interleave& il) {
  if (il.world == 1) return e;
  const int64_t j = e / il.per_sample;
  return (j * il.world + il.rank) * il.per_sample + (e - j * il.per_sample);
}

// The number of local element e (normals or uniforms), drawing a block only when e's global block
// differs from the one cached in (block, r).
template <bool Normal>
__device__ __forceinline__ float draw(int64_t e, const Interleave& il, uint64_t seed, uint64_t offset, uint64_t* block,
                                      float r[4]) {
  const int64_t g = global_element(e, il);
  const uint64_t gb = static_cast<uint64_t>(g) >> 2;
  if (gb != *block) {
    const rng::Block bits = rng::philox4x32_10(gb, offset, seed);
    if (Normal) {
      rng::normal4(bits, r);
    } else {
      rng::uniform4(bits, r);
    }
    *block = gb;
  }
  return r[g & 3];
}

// ---- gaussian: out = x + s (m + d z); each thread owns one Philox block = four elements ----------
template <typename T>
__global__ void gaussian_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n, float s_f, float m_f,
                                float d_f, double s_d, double m_d, double d_d, uint64_t seed, uint64_t offset,
                                Interleave il) {
  using A = typename Acc<T>::type;
  const bool dbl = sizeof(A) == sizeof(double);
  const A s = dbl ? static_cast<A>(s_d) : static_cast<A>(s_f);
  const A m = dbl ? static_cast<A>(m_d) : static_cast<A>(m_f);
  const A d = dbl ? static_cast<A>(d_d) : static_cast<A>(d_f);
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; b < blocks;
       b += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float z[4];
    uint64_t cached = ~uint64_t{0};
    const int64_t e0 = b * 4;
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int64_t e = e0 + l;
      if (e < n) {
        const float v = draw<true>(e, il, seed, offset, &cached, z);
        store(out + e, load(x + e) + s * (m + d * static_cast<A>(v)));
      }
    }
  }
}

// ---- saltPepper (the official rule): each element becomes the tensor's max with probability p/2
// and its min with probability p/2 (both reduced beforehand by the caller; NaN propagates from
// them as from torch.max). Each thread owns one Philox block = four elements. --------------------
template <typename T>
__global__ void salt_pepper_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n,
                                   const T* __restrict__ extremes, float p, uint64_t seed, uint64_t offset,
                                   Interleave il) {
  const T salt = extremes[0], pepper = extremes[1];
  const float half_p = p * 0.5f;
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; b < blocks;
       b += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float u[4];
    uint64_t cached = ~uint64_t{0};
    const int64_t e0 = b * 4;
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int64_t e = e0 + l;
      if (e < n) {
        const float v = draw<false>(e, il, seed, offset, &cached, u);
        out[e] = v < half_p ? salt : (v < p ? pepper : x[e]);
      }
    }
  }
}

// saltPepper backward: replaced elements pass no gradient.
template <typename T>
__global__ void salt_pepper_grad_kernel(const T* __restrict__ g, T* __restrict__ gx, int64_t n, float p, uint64_t seed,
                                        uint64_t offset, Interleave il) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; b < blocks;
       b += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float u[4];
    uint64_t cached = ~uint64_t{0};
    const int64_t e0 = b * 4;
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int64_t e = e0 + l;
      if (e < n) {
        if (draw<false>(e, il, seed, offset, &cached, u) < p) store(gx + e, typename Acc<T>::type(0));
        else gx[e] = g[e];
      }
    }
  }
}

template <typename T>
int launch(const T* x, T* out, const Launch& l, bool backward, cudaStream_t stream) {
  const int64_t n = l.outer * l.k * l.inner;
  if (n == 0) return 0;
  const float pf = static_cast<float>(l.strength);
  const Interleave il{l.per_sample < 1 ? 1 : l.per_sample, l.batch_rank, l.batch_world < 1 ? 1 : l.batch_world};
  switch (l.kind) {
    case kLinear:
      return by_index(n, [&](auto tag) {
        using I = decltype(tag);
        linear_kernel<T, I><<<flat_grid(n), kThreads, 0, stream>>>(x, out, static_cast<I>(n), static_cast<I>(l.k),
                                                                   static_cast<I>(l.inner), pf, l.strength, backward);
        return 0;
      });
    case kOptimal: return launch_optimal<T>(x, out, l, stream);  // symmetric: the backward is the same map
    case kSaltPepper:
      if (backward) {
        salt_pepper_grad_kernel<T>
            <<<flat_grid((n + 3) / 4), kThreads, 0, stream>>>(x, out, n, pf, l.seed, l.offset, il);
        return 0;
      }
      if (l.extremes == nullptr) return static_cast<int>(cudaErrorInvalidValue);
      salt_pepper_kernel<T><<<flat_grid((n + 3) / 4), kThreads, 0, stream>>>(
          x, out, n, static_cast<const T*>(l.extremes), pf, l.seed, l.offset, il);
      return 0;
    case kGaussian:
      if (backward) return static_cast<int>(cudaErrorInvalidValue);  // the identity: never launched
      gaussian_kernel<T><<<flat_grid((n + 3) / 4), kThreads, 0, stream>>>(x, out, n, pf, static_cast<float>(l.mean),
                                                                          static_cast<float>(l.std), l.strength, l.mean,
                                                                          l.std, l.seed, l.offset, il);
      return 0;
    case kNone: return static_cast<int>(cudaMemcpyAsync(out, x, n * sizeof(T), cudaMemcpyDeviceToDevice, stream));
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

template <typename F>
int by_dtype(DType dtype, F f) {
  switch (dtype) {
    case DType::Float32: return f(static_cast<float*>(nullptr));
    case DType::Float64: return f(static_cast<double*>(nullptr));
    case DType::Float16: return f(static_cast<__half*>(nullptr));
    case DType::BFloat16: return f(static_cast<__nv_bfloat16*>(nullptr));
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace

size_t workspace_bytes(DType dtype, const Launch& l) {
  if (l.kind != kOptimal) return 0;
  size_t bytes = 0;
  by_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    bytes = optimal_workspace<T>(l);
    return 0;
  });
  return bytes;
}

int noise_forward(const void* x, void* out, DType dtype, const Launch& l, void* stream) {
  return by_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    return launch<T>(static_cast<const T*>(x), static_cast<T*>(out), l, false, static_cast<cudaStream_t>(stream));
  });
}

int noise_backward(const void* grad, void* grad_x, DType dtype, const Launch& l, void* stream) {
  return by_dtype(dtype, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    return launch<T>(static_cast<const T*>(grad), static_cast<T*>(grad_x), l, true, static_cast<cudaStream_t>(stream));
  });
}

const char* error_string(int code) { return cudaGetErrorString(static_cast<cudaError_t>(code)); }

}  // namespace cuda
}  // namespace noisynn
