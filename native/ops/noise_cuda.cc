// CUDA backend of the noise op: registers the dispatcher kernels that launch noise_kernels.cu
// on the current stream. Compiled only when the Torch found carries CUDA.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAException.h>
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
                         int64_t offset, int64_t per_sample, int64_t batch_rank, int64_t batch_world) {
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
  l.per_sample = per_sample;
  l.batch_rank = batch_rank;
  l.batch_world = batch_world;
  return l;
}

// Runs one launch on the current stream with its scratch: the {max, min} of x for saltPepper
// (reduced by ATen, so NaN propagates as in torch.max) unless the caller gave them, the sums'
// workspace for optimal.
at::Tensor run(const at::Tensor& in, int64_t kind, int64_t axis, double strength, double mean, double std, int64_t seed,
               int64_t offset, int64_t batch_rank, int64_t batch_world, const c10::optional<at::Tensor>& given,
               bool backward, const char* what) {
  const impl::Geometry g = impl::check_and_geometry(in, axis, what);
  impl::check_kind(kind, what);
  const int64_t per_sample = impl::check_interleave(in, batch_rank, batch_world, given, what);
  c10::cuda::CUDAGuard device_guard(in.device());
  const at::Tensor x = in.contiguous();
  at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
  cuda::Launch l = make_launch(g, kind, strength, mean, std, seed, offset, per_sample, batch_rank, batch_world);
  const cuda::DType dtype = kernel_dtype(x.scalar_type());
  at::Tensor extremes, workspace;
  if (!backward && kind == static_cast<int64_t>(NoiseKind::SaltPepper)) {
    extremes = given.has_value() && given->defined() ? given->contiguous() : at::stack({x.max(), x.min()});
    l.extremes = extremes.data_ptr();
  }
  if (const size_t bytes = cuda::workspace_bytes(dtype, l)) {
    workspace = at::empty({static_cast<int64_t>(bytes)}, x.options().dtype(at::kByte));
    l.workspace = workspace.data_ptr();
  }
  const auto stream = c10::cuda::getCurrentCUDAStream().stream();
  const int err = backward ? cuda::noise_backward(x.data_ptr(), out.data_ptr(), dtype, l, stream)
                           : cuda::noise_forward(x.data_ptr(), out.data_ptr(), dtype, l, stream);
  TORCH_CHECK(err == 0, what, ": the CUDA kernel refused its arguments: ", cuda::error_string(err));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

at::Tensor forward_cuda(const at::Tensor& x, int64_t kind, int64_t axis, double strength, double mean, double std,
                        int64_t seed, int64_t offset, bool detach, int64_t batch_rank, int64_t batch_world,
                        const c10::optional<at::Tensor>& extremes) {
  return run(x, kind, axis, strength, mean, std, seed, offset, batch_rank, batch_world, extremes, /*backward=*/false,
             "inject_noise");
}

at::Tensor backward_cuda(const at::Tensor& grad, int64_t kind, int64_t axis, double strength, int64_t seed,
                         int64_t offset, bool detach, int64_t batch_rank, int64_t batch_world) {
  if (impl::backward_is_identity(kind, detach)) {
    impl::check_and_geometry(grad, axis, "inject_noise_backward");
    return grad.clone();
  }
  return run(grad, kind, axis, strength, 0.0, 1.0, seed, offset, batch_rank, batch_world, c10::nullopt,
             /*backward=*/true, "inject_noise_backward");
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
