// Internal: the dispatcher-facing kernel signatures shared by noise_op.cc and the backends.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "ops/noise.h"

namespace noisynn {
namespace impl {

// x viewed as [outer, k, inner] around the mixing axis.
struct Geometry {
  int64_t outer = 1, k = 1, inner = 1;
};

// The common preamble of every kernel: checks and the [outer, k, inner] view.
Geometry check_and_geometry(const at::Tensor& x, int64_t axis, const char* what);

// Throws c10::ValueError unless `kind` is a NoiseKind value (the schema takes any integer).
void check_kind(int64_t kind, const char* what);

// The backward is the identity (dx = g) under detach, for none and for additive gaussian noise.
inline bool backward_is_identity(int64_t kind, bool detach) {
  return detach || kind == static_cast<int64_t>(NoiseKind::None) || kind == static_cast<int64_t>(NoiseKind::Gaussian);
}

at::Tensor forward_cpu(const at::Tensor& x, int64_t kind, int64_t axis, double strength, double mean, double std,
                       int64_t seed, int64_t offset, bool detach);
at::Tensor backward_cpu(const at::Tensor& grad, int64_t kind, int64_t axis, double strength, int64_t seed,
                        int64_t offset, bool detach);
// Fills a contiguous float tensor with the stream's normals or uniforms (CPU).
void philox_fill_cpu(at::Tensor& out, bool normal, uint64_t seed, uint64_t offset);
// False when libtorch parallelizes with OpenMP but these kernels were compiled without -fopenmp:
// at::parallel_for is then an ignored pragma and they run on one thread.
bool cpu_kernels_parallel();

}  // namespace impl
}  // namespace noisynn
