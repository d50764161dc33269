// The noise-injection op: parameters, the public C++ entry points, and the literal reference.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace noisynn {

enum class NoiseKind : int64_t { None = 0, Linear = 1, Optimal = 2, Gaussian = 3, SaltPepper = 4 };

// Parses 'none' | 'linear' | 'optimal' | 'gaussian' | 'saltPepper'; throws c10::Error otherwise.
NoiseKind parse_noise_kind(const std::string& name);
const char* noise_kind_name(NoiseKind kind);

// Every knob of one injection. `strength` is a (linear), s (gaussian) or p (saltPepper);
// `seed`/`offset` key the counter-based Philox stream, so equal (seed, offset) give equal
// noise on every device. `detach` makes the noise term carry no gradient (identity backward).
struct NoiseParams {
  NoiseKind kind = NoiseKind::None;
  int64_t axis = 0;
  double strength = 0.3;
  double mean = 0.0;
  double std = 1.0;
  uint64_t seed = 0;
  uint64_t offset = 0;
  bool detach = false;
  // The batch interleave of data-parallel ranks (DistributedSampler's round-robin deal): sample j
  // of this tensor (along dim 0) is sample j * batch_world + batch_rank of the global batch, and
  // gaussian and saltPepper draw that sample's Philox numbers. (0, 1): the tensor is the batch.
  int64_t batch_rank = 0;
  int64_t batch_world = 1;
  // saltPepper: {salt, pepper} ([2], x's dtype and device) instead of x's own max and min, e.g.
  // the global batch's. Undefined: x's own.
  at::Tensor extremes;
};

// The fused op (dispatched to the CPU or CUDA kernel, differentiable). Returns a new tensor.
at::Tensor inject_noise(const at::Tensor& x, const NoiseParams& p);

// The literal formula from stock ATen ops (Q as a k-by-k matrix, matmul along the axis, add),
// differentiable through ATen's autograd. Random kinds draw the same Philox numbers as the
// fused kernels. Used by the tests and the benchmark as the ground truth.
at::Tensor inject_noise_reference(const at::Tensor& x, const NoiseParams& p);

// The raw random streams the kernels use, materialised (for tests and the reference). With a
// batch interleave (rank, world), row j of the result is row j * world + rank of the stream
// materialised for a batch `world` times as large.
at::Tensor philox_normal(at::IntArrayRef shape, uint64_t seed, uint64_t offset, at::ScalarType dtype,
                         int64_t batch_rank = 0, int64_t batch_world = 1);
at::Tensor philox_uniform(at::IntArrayRef shape, uint64_t seed, uint64_t offset, at::ScalarType dtype,
                          int64_t batch_rank = 0, int64_t batch_world = 1);

// Whether this build carries the CUDA kernels, and the names of the visible GPUs.
bool built_with_cuda();
std::vector<std::string> cuda_device_names();

}  // namespace noisynn
