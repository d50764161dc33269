// The CUDA kernels' own API: plain pointers, sizes, a stream and the Philox (seed, offset).
// Free of ATen so that `nvcc -c noise_kernels.cu` builds with a minimal CUDA toolkit.
#pragma once

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
};

// Both return 0 on success or a cudaError_t code. `stream` is a cudaStream_t.
int noise_forward(const void* x, void* out, DType dtype, const Launch& l, void* stream);
// The backward of a non-detached, non-identity kind (linear, optimal, saltPepper).
int noise_backward(const void* grad, void* grad_x, DType dtype, const Launch& l, void* stream);
const char* error_string(int code);

}  // namespace cuda
}  // namespace noisynn
