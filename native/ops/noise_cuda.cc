// CUDA backend of the noise op: registers the dispatcher kernels that launch noise_kernels.cu
// on the current stream. Compiled only when the Torch found carries CUDA.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <torch/library.h>

#include <string>
#include <vector>

#include "ops/noise.h"
#include "ops/noise_impl.h"
#include "ops/noise_kernels.h"

namespace noisynn {

namespace {

cuda::DType kernel_dtype(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return cuda::DType::Float32;
    case at::kDouble: return cuda::DType::Float64;
    case at::kHalf: return cuda::DType::Float16;
    case at::kBFloat16: return cuda::DType::BFloat16;
    default: TORCH_CHECK_VALUE(false, "inject_noise: unsupported dtype ", t);
  }
}

cuda::Launch make_launch(const impl::Geometry& g, int64_t kind, double strength, double mean, double std, int64_t seed,
                         int64_t offset) {
  cuda::Launch l;
  l.outer = g.outer;
  l.k = g.k;
  l.inner = g.inner;
  l.kind = static_cast<int>(kind);
  l.strength = strength;
  l.mean = mean;
  l.std = std;
  l.seed = static_cast<uint64_t>(seed);
  l.offset = static_cast<uint64_t>(offset);
  return l;
}

at::Tensor forward_cuda(const at::Tensor& x_in, int64_t kind, int64_t axis, double strength, double mean, double std,
                        int64_t seed, int64_t offset, bool detach) {
  const impl::Geometry g = impl::check_and_geometry(x_in, axis, "inject_noise");
  c10::cuda::CUDAGuard device_guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
  const int err = cuda::noise_forward(x.data_ptr(), out.data_ptr(), kernel_dtype(x.scalar_type()),
                                      make_launch(g, kind, strength, mean, std, seed, offset),
                                      c10::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(err == 0, "inject_noise: CUDA kernel failed: ", cuda::error_string(err));
  return out;
}

at::Tensor backward_cuda(const at::Tensor& grad_in, int64_t kind, int64_t axis, double strength, int64_t seed,
                         int64_t offset, bool detach) {
  const impl::Geometry g = impl::check_and_geometry(grad_in, axis, "inject_noise_backward");
  if (impl::backward_is_identity(kind, detach)) return grad_in.clone();
  c10::cuda::CUDAGuard device_guard(grad_in.device());
  const at::Tensor grad = grad_in.contiguous();
  at::Tensor gx = at::empty_like(grad, at::MemoryFormat::Contiguous);
  const int err = cuda::noise_backward(grad.data_ptr(), gx.data_ptr(), kernel_dtype(grad.scalar_type()),
                                       make_launch(g, kind, strength, 0.0, 1.0, seed, offset),
                                       c10::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(err == 0, "inject_noise_backward: CUDA kernel failed: ", cuda::error_string(err));
  return gx;
}

}  // namespace

TORCH_LIBRARY_IMPL(noisynn, CUDA, m) {
  m.impl("inject_noise", &forward_cuda);
  m.impl("inject_noise_backward", &backward_cuda);
}

bool built_with_cuda() { return true; }

std::vector<std::string> cuda_device_names() {
  std::vector<std::string> names;
  const int n = static_cast<int>(c10::cuda::device_count());
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) == cudaSuccess) names.emplace_back(prop.name);
  }
  return names;
}

}  // namespace noisynn
