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

// Checks a batch interleave (rank in [0, world)) and a saltPepper extremes override ([2], x's
// dtype and device); returns the elements per sample (along dim 0) of x.
int64_t check_interleave(const at::Tensor& x, int64_t batch_rank, int64_t batch_world,
                         const c10::optional<at::Tensor>& extremes, const char* what);

at::Tensor forward_cpu(const at::Tensor& x, int64_t kind, int64_t axis, double strength, double mean, double std,
                       int64_t seed, int64_t offset, bool detach, int64_t batch_rank, int64_t batch_world,
                       const c10::optional<at::Tensor>& extremes);
at::Tensor backward_cpu(const at::Tensor& grad, int64_t kind, int64_t axis, double strength, int64_t seed,
                        int64_t offset, bool detach, int64_t batch_rank, int64_t batch_world);
// Fills a contiguous float tensor with the stream's normals or uniforms (CPU), under a batch
// interleave of `per_sample` elements per sample (see NoiseParams).
void philox_fill_cpu(at::Tensor& out, bool normal, uint64_t seed, uint64_t offset, int64_t per_sample = 1,
                     int64_t batch_rank = 0, int64_t batch_world = 1);
// The output size in bytes from which the linear and optimal CPU kernels write float outputs
// with non-temporal stores (default: the last-level cache's size). Returns the previous value.
// For tests: both stores give the same bits.
int64_t set_stream_store_threshold(int64_t bytes);
// False when libtorch parallelizes with OpenMP but these kernels were compiled without -fopenmp:
// at::parallel_for is then an ignored pragma and they run on one thread.
bool cpu_kernels_parallel();

}  // namespace impl
}  // namespace noisynn
