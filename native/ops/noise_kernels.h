// The CUDA kernels' own API: plain pointers, sizes, a stream and the Philox (seed, offset).
// Free of ATen so that `nvcc -c noise_kernels.cu` builds with a minimal CUDA toolkit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace noisynn {
namespace cuda {

enum class DType : int { Float32 = 0, Float64 = 1, Float16 = 2, BFloat16 = 3 };

// One launch: x viewed as [outer, k, inner] around the mixing axis; `kind` is NoiseKind's value.
struct Launch {
  int64_t outer = 1, k = 1, inner = 1;
  int kind = 0;
  double strength = 0, mean = 0, std = 1;
  uint64_t seed = 0, offset = 0;
  // gaussian, saltPepper: the batch interleave of data-parallel ranks (ops/noise.h): local element
  // e of sample j = e / per_sample takes the counter of element (j * batch_world + batch_rank) *
  // per_sample + e % per_sample.
  int64_t per_sample = 1, batch_rank = 0, batch_world = 1;
  // saltPepper: device pointer to {max, min} of the whole tensor, in its dtype (the caller
  // reduces, so the kernel stays one elementwise pass).
  const void* extremes = nullptr;
  // optimal: device scratch of workspace_bytes(dtype, launch) bytes for the sums along the axis.
  void* workspace = nullptr;
};

// Scratch the launch needs (0 for every kind but optimal).
size_t workspace_bytes(DType dtype, const Launch& l);

// Both return 0 when the launch was issued (the caller checks the launch itself with
// C10_CUDA_KERNEL_LAUNCH_CHECK), or a cudaError_t code for arguments they refuse (an unknown kind,
// a missing workspace). `stream` is a cudaStream_t.
int noise_forward(const void* x, void* out, DType dtype, const Launch& l, void* stream);
// The backward of a non-detached, non-identity kind (linear, optimal, saltPepper).
int noise_backward(const void* grad, void* grad_x, DType dtype, const Launch& l, void* stream);
const char* error_string(int code);

}  // namespace cuda
}  // namespace noisynn
