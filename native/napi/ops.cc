// N-API bindings of the noise op, its test probes, and the runtime report (info).
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <fstream>
#include <string>

#include "napi/errors.h"
#include "napi/tensor.h"
#include "ops/noise.h"
#include "ops/noise_impl.h"

namespace noisynn {
namespace napi {

namespace {

// The flat config object built by lib/noise.ts (already validated and defaulted there).
NoiseParams ParseNoise(const Napi::Value& v) {
  Napi::Object o = v.As<Napi::Object>();
  NoiseParams p;
  p.kind = parse_noise_kind(o.Get("kind").As<Napi::String>());
  p.axis = o.Get("axis").As<Napi::Number>().Int64Value();
  p.strength = o.Get("strength").As<Napi::Number>().DoubleValue();
  p.mean = o.Get("mean").As<Napi::Number>().DoubleValue();
  p.std = o.Get("std").As<Napi::Number>().DoubleValue();
  p.seed = ParseU64Decimal(o.Get("seed").As<Napi::String>(), "seed");
  p.offset = ParseU64Decimal(o.Get("offset").As<Napi::String>(), "offset");
  p.detach = o.Get("detach").As<Napi::Boolean>();
  return p;
}

Napi::Value InjectNoise(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor x = UnwrapTensor(info[0], "x");
    NoiseParams p = ParseNoise(info[1]);
    const bool grad = info.Length() > 2 && info[2].ToBoolean();
    at::Tensor out;
    if (grad) {
      out = inject_noise(x, p);
    } else {
      at::NoGradGuard no_grad;
      out = inject_noise(x, p);
    }
    return TensorWrap::New(info.Env(), out);
  });
}

Napi::Value InjectNoiseReference(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::NoGradGuard no_grad;
    return TensorWrap::New(info.Env(), inject_noise_reference(UnwrapTensor(info[0], "x"), ParseNoise(info[1])));
  });
}

// d/dx of sum(op(x) * weight), through the fused op or through the reference's autograd.
Napi::Value NoiseGrad(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor x = UnwrapTensor(info[0], "x").detach().clone().requires_grad_(true);
    at::Tensor w = UnwrapTensor(info[1], "weight");
    NoiseParams p = ParseNoise(info[2]);
    const bool reference = info[3].ToBoolean();
    at::Tensor y = reference ? inject_noise_reference(x, p) : inject_noise(x, p);
    (y * w).sum().backward();
    return TensorWrap::New(info.Env(), x.grad().detach());
  });
}

Napi::Value Philox(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    std::string kind = info[0].As<Napi::String>();
    Napi::Array shapeArr = info[1].As<Napi::Array>();
    std::vector<int64_t> shape(shapeArr.Length());
    for (uint32_t i = 0; i < shapeArr.Length(); ++i) shape[i] = shapeArr.Get(i).As<Napi::Number>().Int64Value();
    uint64_t seed = ParseU64Decimal(info[2].As<Napi::String>(), "seed"), offset = ParseU64Decimal(info[3].As<Napi::String>(), "offset");
    at::ScalarType dtype = ParseDtype(info[4].As<Napi::String>());
    at::Tensor t = kind == "normal" ? philox_normal(shape, seed, offset, dtype) : philox_uniform(shape, seed, offset, dtype);
    return TensorWrap::New(info.Env(), t);
  });
}

// Which BLAS the process actually loaded (the build-time config cannot tell: Debian's
// libblas.so.3 is an alternative that may point at reference BLAS or OpenBLAS).
std::string LoadedBlas() {
  std::ifstream maps("/proc/self/maps");
  std::string line, found;
  while (std::getline(maps, line)) {
    auto pos = line.find('/');
    if (pos == std::string::npos) continue;
    std::string path = line.substr(pos);
    if (path.find("openblas") != std::string::npos) return "OpenBLAS (" + path + ")";
    if (path.find("libmkl") != std::string::npos) return "MKL (" + path + ")";
    if (path.find("libblis") != std::string::npos) return "BLIS (" + path + ")";
    if (path.find("libblas.so") != std::string::npos && found.empty()) found = "reference BLAS (" + path + ")";
  }
  return found.empty() ? "unknown (no BLAS library mapped)" : found;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("libtorchVersion", Napi::String::New(env, TORCH_VERSION));
    const bool cuda = torch::cuda::is_available();
    o.Set("cuda", Napi::Boolean::New(env, cuda));
    o.Set("cudaBuilt", Napi::Boolean::New(env, built_with_cuda()));
    Napi::Array names = Napi::Array::New(env);
    if (cuda) {
      auto list = cuda_device_names();
      for (size_t i = 0; i < list.size(); ++i) names.Set(static_cast<uint32_t>(i), Napi::String::New(env, list[i]));
    }
    o.Set("cudaDevices", names);
    o.Set("threads", Napi::Number::New(env, at::get_num_threads()));
    o.Set("blas", Napi::String::New(env, LoadedBlas()));
    o.Set("parallel", Napi::String::New(env, at::get_parallel_info()));
    o.Set("cpuKernels", Napi::String::New(env, impl::philox_cpu_path()));
    o.Set("cpuKernelsParallel", Napi::Boolean::New(env, impl::cpu_kernels_parallel()));
    return o;
  });
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  });
}

}  // namespace

void InitOps(Napi::Env env, Napi::Object exports) {
  exports.Set("injectNoise", Napi::Function::New(env, InjectNoise, "injectNoise"));
  exports.Set("injectNoiseReference", Napi::Function::New(env, InjectNoiseReference, "injectNoiseReference"));
  exports.Set("noiseGrad", Napi::Function::New(env, NoiseGrad, "noiseGrad"));
  exports.Set("philox", Napi::Function::New(env, Philox, "philox"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
}

}  // namespace napi
}  // namespace noisynn
