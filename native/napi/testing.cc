// Test and benchmark support, kept apart from the API: the addon's `_testing` object.
//
// lib/binding.ts types it as NativeTestingBinding; only test/ and bench/ use it. Each probe runs
// production code (the op, its literal reference, a model's noise site, the trainer's step) and
// adds nothing of its own but the calling convention.
#include <napi.h>

#include <chrono>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "napi/async.h"
#include "napi/config.h"
#include "napi/errors.h"
#include "napi/models.h"
#include "napi/ops.h"
#include "napi/tensor.h"
#include "ops/noise.h"
#include "train/trainer.h"

namespace noisynn {
namespace napi {

namespace {

Napi::Array NumberArray(Napi::Env env, const std::vector<double>& values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(static_cast<uint32_t>(i), values[i]);
  return out;
}

// injectNoiseReference(x, config): the literal formula of ops/noise.h, without autograd.
Napi::Value InjectNoiseReference(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::NoGradGuard no_grad;
    at::Tensor x = UnwrapTensor(info[0], "x");
    return TensorWrap::New(info.Env(), inject_noise_reference(x, ReadNoiseParams(ConfigReader(info[1], "config"))));
  });
}

// noiseGrad(x, weight, config, reference): d/dx of sum(op(x) * weight), through the fused op or
// through the reference's autograd.
Napi::Value NoiseGrad(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor x = UnwrapTensor(info[0], "x").detach().clone().requires_grad_(true);
    at::Tensor w = UnwrapTensor(info[1], "weight");
    NoiseParams p = ReadNoiseParams(ConfigReader(info[2], "config"));
    const bool reference = info[3].ToBoolean();
    at::Tensor y = reference ? inject_noise_reference(x, p) : inject_noise(x, p);
    (y * w).sum().backward();
    return TensorWrap::New(info.Env(), x.grad().detach());
  });
}

// philox(kind 'normal' | 'uniform', shape, seed, offset, dtype): the raw random stream.
Napi::Value Philox(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const std::string kind = info[0].As<Napi::String>();
    Napi::Array dims = info[1].As<Napi::Array>();
    std::vector<int64_t> shape(dims.Length());
    for (uint32_t i = 0; i < dims.Length(); ++i) shape[i] = dims.Get(i).As<Napi::Number>().Int64Value();
    const uint64_t seed = ParseU64Decimal(info[2].As<Napi::String>(), "seed");
    const uint64_t offset = ParseU64Decimal(info[3].As<Napi::String>(), "offset");
    const at::ScalarType dtype = ParseDtype(info[4].As<Napi::String>());
    if (kind != "normal" && kind != "uniform") {
      throw noisynn::RangeError("Expected 'normal' or 'uniform' for kind but received '" + kind + "'");
    }
    at::Tensor t =
        kind == "normal" ? philox_normal(shape, seed, offset, dtype) : philox_uniform(shape, seed, offset, dtype);
    return TensorWrap::New(info.Env(), t);
  });
}

// noiseSiteProbe(x, noise, layout, offset, gridH?, gridW?): a noise site applied to a tensor
// exactly as a model would. layout 'tokens' takes [B, 1 + gridH*gridW, C]; 'featureMap' takes
// [B, C, H, W]. Ignores `when`.
Napi::Value NoiseSiteProbe(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor x = UnwrapTensor(info[0], "x");
    models::NoiseSite site;
    site.configure(ReadNoiseSite(ConfigReader(info[1], "noise")));
    const std::string layout = info[2].As<Napi::String>();
    site.set_offset(ParseU64Decimal(info[3].As<Napi::String>(), "offset"));
    torch::NoGradGuard no_grad;
    if (layout == "tokens") {
      const int64_t grid_h = info[4].As<Napi::Number>().Int64Value(), grid_w = info[5].As<Napi::Number>().Int64Value();
      return TensorWrap::New(info.Env(), site.apply_to_tokens(x, grid_h, grid_w));
    }
    if (layout == "featureMap") return TensorWrap::New(info.Env(), site.apply_to_feature_map(x));
    throw noisynn::RangeError("Expected 'tokens' or 'featureMap' for layout but received '" + layout + "'");
  });
}

// benchNoiseSite(x, noise, gridH, gridW, iterations): Promise<seconds[]>, one per forward +
// backward of the site alone (models::time_noise_site).
Napi::Value BenchNoiseSite(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor x = UnwrapTensor(info[0], "x");
    auto site = std::make_shared<models::NoiseSite>();
    site->configure(ReadNoiseSite(ConfigReader(info[1], "noise")));
    const int64_t grid_h = info[2].As<Napi::Number>().Int64Value(), grid_w = info[3].As<Napi::Number>().Int64Value();
    const int64_t iterations = info[4].As<Napi::Number>().Int64Value();
    auto seconds = std::make_shared<std::vector<double>>();
    return TaskWorker::Run(
        info.Env(), "noisynn.testing.benchNoiseSite",
        [=] { *seconds = models::time_noise_site(*site, x, grid_h, grid_w, iterations); },
        [=](Napi::Env env) -> Napi::Value { return NumberArray(env, *seconds); });
  });
}

// benchTrainStep(model, x, labels, iterations): Promise<seconds[]>, one per training step as the
// benchmarks measure it (zero grads, forward, cross-entropy, backward: Trainer::forward_backward
// of a trainer with default options), in train mode.
Napi::Value BenchTrainStep(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto trainer = std::make_shared<train::Trainer>(UnwrapModel(info[0], "model"), train::TrainerOptions{});
    at::Tensor x = UnwrapTensor(info[1], "x");
    at::Tensor labels = UnwrapTensor(info[2], "labels");
    const int64_t iterations = info[3].As<Napi::Number>().Int64Value();
    auto seconds = std::make_shared<std::vector<double>>();
    return TaskWorker::Run(
        info.Env(), "noisynn.testing.benchTrainStep",
        [=] { *seconds = train::time_forward_backward(*trainer, x, labels, iterations); },
        [=](Napi::Env env) -> Napi::Value { return NumberArray(env, *seconds); });
  });
}

// benchNoiseOp(x, config, iterations): seconds of each of `iterations` calls of the op (no
// autograd) on this thread, each output freed before the next call, as a JS loop that disposes
// them would: bench/inject.js compares the JS call path against this.
Napi::Value BenchNoiseOp(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor x = UnwrapTensor(info[0], "x");
    const NoiseParams p = ReadNoiseParams(ConfigReader(info[1], "config"));
    const int64_t iterations = info[2].As<Napi::Number>().Int64Value();
    if (iterations < 1) throw noisynn::RangeError("Expected positive integer for iterations");
    at::NoGradGuard no_grad;
    std::vector<double> seconds;
    for (int64_t i = 0; i < iterations; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      { at::Tensor y = inject_noise(x, p); }
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return NumberArray(info.Env(), seconds);
  });
}

// mallocStats(): glibc's heap figures (mallinfo2), to tell a leak (bytes in use grow) from
// fragmentation or retention (in use flat, free bytes held by the arenas grow); null elsewhere.
Napi::Value MallocStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  const struct mallinfo2 m = mallinfo2();
  Napi::Object out = Napi::Object::New(env);
  out.Set("arenaBytes", static_cast<double>(m.arena));     // sbrk'd main arena + other arenas' heaps
  out.Set("mmappedBytes", static_cast<double>(m.hblkhd));  // blocks mapped on their own
  out.Set("inUseBytes", static_cast<double>(m.uordblks + m.hblkhd));
  out.Set("freeHeldBytes", static_cast<double>(m.fordblks));  // free, but kept by the arenas
  return out;
#else
  return env.Null();
#endif
}

// mallocTrim(): glibc's malloc_trim(0), returning whether it gave memory back; false elsewhere.
Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

}  // namespace

void InitTesting(Napi::Env env, Napi::Object exports) {
  Napi::Object testing = Napi::Object::New(env);
  testing.Set("injectNoiseReference", Napi::Function::New(env, InjectNoiseReference, "injectNoiseReference"));
  testing.Set("noiseGrad", Napi::Function::New(env, NoiseGrad, "noiseGrad"));
  testing.Set("philox", Napi::Function::New(env, Philox, "philox"));
  testing.Set("noiseSiteProbe", Napi::Function::New(env, NoiseSiteProbe, "noiseSiteProbe"));
  testing.Set("benchNoiseSite", Napi::Function::New(env, BenchNoiseSite, "benchNoiseSite"));
  testing.Set("benchTrainStep", Napi::Function::New(env, BenchTrainStep, "benchTrainStep"));
  testing.Set("benchNoiseOp", Napi::Function::New(env, BenchNoiseOp, "benchNoiseOp"));
  testing.Set("mallocStats", Napi::Function::New(env, MallocStats, "mallocStats"));
  testing.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("_testing", testing);
}

}  // namespace napi
}  // namespace noisynn
