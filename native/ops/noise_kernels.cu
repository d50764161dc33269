// CUDA kernels of the noise op: fused, one read and one write of x (the re-read of a tile for
// optimal/saltPepper hits L2), random numbers from the Philox stream shared with the CPU.
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
constexpr int kLinear = 1, kOptimal = 2, kGaussian = 3, kSaltPepper = 4;

template <typename T> struct Acc { using type = T; };
template <> struct Acc<__half> { using type = float; };
template <> struct Acc<__nv_bfloat16> { using type = float; };

template <typename T> __device__ __forceinline__ typename Acc<T>::type load(const T* p) { return *p; }
template <> __device__ __forceinline__ float load<__half>(const __half* p) { return __half2float(*p); }
template <> __device__ __forceinline__ float load<__nv_bfloat16>(const __nv_bfloat16* p) { return __bfloat162float(*p); }

template <typename T> __device__ __forceinline__ void store(T* p, typename Acc<T>::type v) { *p = v; }
template <> __device__ __forceinline__ void store<__half>(__half* p, float v) { *p = __float2half(v); }
template <> __device__ __forceinline__ void store<__nv_bfloat16>(__nv_bfloat16* p, float v) { *p = __float2bfloat16(v); }

constexpr int kColThreads = 32;  // columns (inner) per block of the column kernels
constexpr int kRowThreads = 8;   // partitions of k per column

// linear: out_i = x_i + a (x_n - x_i) with n = i+1 (forward) or i-1 (backward), mod k.
// Grid: x over inner, y over rows (outer * k), grid-stride on both.
template <typename T>
__global__ void linear_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t outer, int64_t k, int64_t inner,
                              float a_f, double a_d, bool transpose) {
  using A = typename Acc<T>::type;
  const A a = sizeof(A) == sizeof(double) ? static_cast<A>(a_d) : static_cast<A>(a_f);
  const int64_t rows = outer * k;
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    const int64_t i = r % k, o = r / k;
    const int64_t n = transpose ? (i == 0 ? k - 1 : i - 1) : (i + 1 == k ? 0 : i + 1);
    const T* xi = x + r * inner;
    const T* xn = x + (o * k + n) * inner;
    T* oi = out + r * inner;
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < inner; j += (int64_t)gridDim.x * blockDim.x) {
      const A v = load(xi + j);
      store(oi + j, v + a * (load(xn + j) - v));
    }
  }
}

// Column kernels: block (32, 8) covers 32 columns; the 8 row-threads split k, reduce in shared
// memory, then each writes its rows. Grid: x over column tiles, y over outer (grid-stride).
template <typename T>
__global__ void optimal_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t outer, int64_t k, int64_t inner) {
  using A = typename Acc<T>::type;
  __shared__ A partial[kRowThreads][kColThreads];
  const int64_t j = blockIdx.x * (int64_t)kColThreads + threadIdx.x;
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
      for (int64_t i = threadIdx.y; i < k; i += kRowThreads) {
        store(oo + i * inner + j, (load(xo + i * inner + j) + total) * inv);
      }
    }
    __syncthreads();
  }
}

// saltPepper: each thread owns four consecutive columns, so one Philox block (four words) serves
// its four elements of a row when rows start on a multiple of four elements (inner % 4 == 0), and
// two blocks otherwise, instead of one block per element. Block (32, 8) covers 128 columns.
constexpr int kSpCols = 4;

// Word w of a block by selects, so the blocks stay in registers (an indexed access would not).
__device__ __forceinline__ uint32_t word(const rng::Block& b, int w) {
  return w == 0 ? b.v[0] : w == 1 ? b.v[1] : w == 2 ? b.v[2] : b.v[3];
}

template <typename T>
__global__ void salt_pepper_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t outer, int64_t k, int64_t inner,
                                   float p, uint64_t seed, uint64_t offset) {
  using A = typename Acc<T>::type;
  __shared__ A part_hi[kRowThreads][kColThreads][kSpCols];
  __shared__ A part_lo[kRowThreads][kColThreads][kSpCols];
  const int64_t j0 = (blockIdx.x * (int64_t)kColThreads + threadIdx.x) * kSpCols;
  const bool aligned = inner % 4 == 0;  // then e0 below is a multiple of 4: one Philox block
  const float half_p = p * 0.5f;
  for (int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    const T* xo = x + o * k * inner;
    A hi[kSpCols], lo[kSpCols];
#pragma unroll
    for (int c = 0; c < kSpCols; ++c) {
      hi[c] = load(xo + (j0 + c < inner ? j0 + c : 0));
      lo[c] = hi[c];
    }
    for (int64_t i = threadIdx.y; i < k; i += kRowThreads) {
#pragma unroll
      for (int c = 0; c < kSpCols; ++c) {
        if (j0 + c < inner) {
          const A v = load(xo + i * inner + j0 + c);
          hi[c] = v > hi[c] ? v : hi[c];
          lo[c] = v < lo[c] ? v : lo[c];
        }
      }
    }
#pragma unroll
    for (int c = 0; c < kSpCols; ++c) {
      part_hi[threadIdx.y][threadIdx.x][c] = hi[c];
      part_lo[threadIdx.y][threadIdx.x][c] = lo[c];
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < kRowThreads; ++r) {
#pragma unroll
      for (int c = 0; c < kSpCols; ++c) {
        hi[c] = part_hi[r][threadIdx.x][c] > hi[c] ? part_hi[r][threadIdx.x][c] : hi[c];
        lo[c] = part_lo[r][threadIdx.x][c] < lo[c] ? part_lo[r][threadIdx.x][c] : lo[c];
      }
    }
    if (j0 < inner) {
      for (int64_t i = threadIdx.y; i < k; i += kRowThreads) {
        const int64_t e0 = (o * k + i) * inner + j0;
        const uint64_t b0 = static_cast<uint64_t>(e0) >> 2;
        // Elements e0 .. e0 + 3 lie in blocks b0 and (unless aligned) b0 + 1.
        const rng::Block first = rng::philox4x32_10(b0, offset, seed);
        const rng::Block second = aligned ? first : rng::philox4x32_10(b0 + 1, offset, seed);
#pragma unroll
        for (int c = 0; c < kSpCols; ++c) {
          if (j0 + c >= inner) break;
          const int64_t e = e0 + c;
          const int w = static_cast<int>(e & 3);
          const float u = rng::uniform_open((static_cast<uint64_t>(e) >> 2) == b0 ? word(first, w) : word(second, w));
          // Copy the element itself (not a re-rounded value) when it is kept.
          if (u < half_p) store(out + e, hi[c]);
          else if (u < p) store(out + e, lo[c]);
          else out[e] = x[e];
        }
      }
    }
    __syncthreads();
  }
}

// gaussian: each thread owns one Philox block = four consecutive elements.
template <typename T>
__global__ void gaussian_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n, float s_f, float m_f, float d_f,
                                double s_d, double m_d, double d_d, uint64_t seed, uint64_t offset) {
  using A = typename Acc<T>::type;
  const bool dbl = sizeof(A) == sizeof(double);
  const A s = dbl ? static_cast<A>(s_d) : static_cast<A>(s_f);
  const A m = dbl ? static_cast<A>(m_d) : static_cast<A>(m_f);
  const A d = dbl ? static_cast<A>(d_d) : static_cast<A>(d_f);
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; b < blocks; b += (int64_t)gridDim.x * blockDim.x) {
    float z[4];
    rng::normal4(rng::philox4x32_10(static_cast<uint64_t>(b), offset, seed), z);
    const int64_t e0 = b * 4;
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int64_t e = e0 + l;
      if (e < n) store(out + e, load(x + e) + s * (m + d * static_cast<A>(z[l])));
    }
  }
}

// saltPepper backward: replaced elements pass no gradient.
template <typename T>
__global__ void salt_pepper_grad_kernel(const T* __restrict__ g, T* __restrict__ gx, int64_t n, float p, uint64_t seed,
                                        uint64_t offset) {
  const int64_t blocks = (n + 3) / 4;
  for (int64_t b = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; b < blocks; b += (int64_t)gridDim.x * blockDim.x) {
    float u[4];
    rng::uniform4(rng::philox4x32_10(static_cast<uint64_t>(b), offset, seed), u);
    const int64_t e0 = b * 4;
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int64_t e = e0 + l;
      if (e < n) {
        if (u[l] < p) store(gx + e, typename Acc<T>::type(0));
        else gx[e] = g[e];
      }
    }
  }
}

inline unsigned clamp_grid(int64_t v, int64_t hi) { return static_cast<unsigned>(v < 1 ? 1 : (v > hi ? hi : v)); }

template <typename T>
int launch(const T* x, T* out, const Launch& l, bool backward, cudaStream_t stream) {
  const int64_t n = l.outer * l.k * l.inner;
  if (n == 0) return 0;
  const float pf = static_cast<float>(l.strength);
  switch (l.kind) {
    case kLinear: {
      dim3 block(256);
      dim3 grid(clamp_grid((l.inner + 255) / 256, 65535), clamp_grid(l.outer * l.k, 65535));
      linear_kernel<T><<<grid, block, 0, stream>>>(x, out, l.outer, l.k, l.inner, pf, l.strength, backward);
      break;
    }
    case kOptimal: {
      dim3 block(kColThreads, kRowThreads);
      dim3 grid(clamp_grid((l.inner + kColThreads - 1) / kColThreads, 2147483647), clamp_grid(l.outer, 65535));
      optimal_kernel<T><<<grid, block, 0, stream>>>(x, out, l.outer, l.k, l.inner);
      break;
    }
    case kSaltPepper: {
      if (backward) {
        salt_pepper_grad_kernel<T><<<clamp_grid((n / 4 + 255) / 256, 1 << 16), 256, 0, stream>>>(x, out, n, pf, l.seed, l.offset);
      } else {
        dim3 block(kColThreads, kRowThreads);
        const int64_t cols = kColThreads * kSpCols;
        dim3 grid(clamp_grid((l.inner + cols - 1) / cols, 2147483647), clamp_grid(l.outer, 65535));
        salt_pepper_kernel<T><<<grid, block, 0, stream>>>(x, out, l.outer, l.k, l.inner, pf, l.seed, l.offset);
      }
      break;
    }
    case kGaussian: {
      gaussian_kernel<T><<<clamp_grid((n / 4 + 255) / 256, 1 << 16), 256, 0, stream>>>(
          x, out, n, pf, static_cast<float>(l.mean), static_cast<float>(l.std), l.strength, l.mean, l.std, l.seed, l.offset);
      break;
    }
    default:
      return static_cast<int>(cudaMemcpyAsync(out, x, n * sizeof(T), cudaMemcpyDeviceToDevice, stream));
  }
  return static_cast<int>(cudaGetLastError());
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
