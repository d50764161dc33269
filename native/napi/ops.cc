// The noise op and the runtime report for JS: injectNoise and info.
#include "napi/ops.h"

#include <ATen/core/grad_mode.h>

#include "common/cpu_allocator.h"
#include "common/runtime_info.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace noisynn {
namespace napi {

NoiseParams ReadNoiseParams(const ConfigReader& r) {
  NoiseParams p;
  p.kind = parse_noise_kind(r.String("kind"));
  p.axis = r.Int("axis");
  p.strength = r.Double("strength");
  p.mean = r.Double("mean");
  p.std = r.Double("std");
  p.seed = r.U64("seed");
  p.offset = r.U64("offset");
  p.detach = r.Bool("detach");
  return p;
}

namespace {

// injectNoise(x, config, requiresGrad): requiresGrad records the op for backward (lib/ passes
// x's own flag); otherwise it runs without autograd.
Napi::Value InjectNoise(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor x = UnwrapTensor(info[0], "x");
    NoiseParams p = ReadNoiseParams(ConfigReader(info[1], "config"));
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

Napi::Value Info(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const RuntimeInfo r = runtime_info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("libtorchVersion", r.libtorch_version);
    o.Set("cuda", r.cuda);
    o.Set("cudaBuilt", r.cuda_built);
    Napi::Array devices = Napi::Array::New(env, r.cuda_devices.size());
    for (size_t i = 0; i < r.cuda_devices.size(); ++i) devices.Set(static_cast<uint32_t>(i), r.cuda_devices[i]);
    o.Set("cudaDevices", devices);
    o.Set("threads", static_cast<double>(r.threads));
    o.Set("blas", r.blas);
    o.Set("parallel", r.parallel);
    o.Set("cpuKernels", r.cpu_kernels);
    o.Set("cpuKernelsParallel", r.cpu_kernels_parallel);
    return o;
  });
}

// cpuMemory(): the caching CPU allocator's counters (common/cpu_allocator.h).
Napi::Value CpuMemory(const Napi::CallbackInfo& info) {
  const cpu_memory::Stats s = cpu_memory::stats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("installed", s.installed);
  o.Set("allocatedBytes", static_cast<double>(s.allocated_bytes));
  o.Set("cachedBytes", static_cast<double>(s.cached_bytes));
  o.Set("capBytes", static_cast<double>(s.cap_bytes));
  o.Set("hits", static_cast<double>(s.hits));
  o.Set("misses", static_cast<double>(s.misses));
  return o;
}

Napi::Value EmptyCpuCache(const Napi::CallbackInfo& info) {
  cpu_memory::release_cached();
  return info.Env().Undefined();
}

}  // namespace

void InitOps(Napi::Env env, Napi::Object exports) {
  exports.Set("injectNoise", Napi::Function::New(env, InjectNoise, "injectNoise"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("cpuMemory", Napi::Function::New(env, CpuMemory, "cpuMemory"));
  exports.Set("emptyCpuCache", Napi::Function::New(env, EmptyCpuCache, "emptyCpuCache"));
}

}  // namespace napi
}  // namespace noisynn
