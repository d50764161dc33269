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
};

// The fused op (dispatched to the CPU or CUDA kernel, differentiable). Returns a new tensor.
at::Tensor inject_noise(const at::Tensor& x, const NoiseParams& p);

// The literal formula from stock ATen ops (Q as a k-by-k matrix, matmul along the axis, add),
// differentiable through ATen's autograd. Random kinds draw the same Philox numbers as the
// fused kernels. Used by the tests and the benchmark as the ground truth.
at::Tensor inject_noise_reference(const at::Tensor& x, const NoiseParams& p);

// The raw random streams the kernels use, materialised (for tests and the reference).
at::Tensor philox_normal(at::IntArrayRef shape, uint64_t seed, uint64_t offset, at::ScalarType dtype);
at::Tensor philox_uniform(at::IntArrayRef shape, uint64_t seed, uint64_t offset, at::ScalarType dtype);

// Whether this build carries the CUDA kernels, and the names of the visible GPUs.
bool built_with_cuda();
std::vector<std::string> cuda_device_names();

}  // namespace noisynn
