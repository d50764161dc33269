// Models for JS: creation from a validated flat config, forward off the JS thread, weights I/O.
#include "napi/models.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "models/resnet.h"
#include "models/vit.h"
#include "models/weights.h"
#include "napi/addon_data.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace noisynn {
namespace napi {

namespace {

// ---- reading the flat configs that lib/models.ts builds (already validated there) ----

Napi::Value Field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) throw noisynn::TypeError(std::string("missing config field ") + key);
  return v;
}

int64_t GetInt(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  if (!v.IsNumber()) throw noisynn::TypeError(std::string("Expected integer for ") + key);
  return v.As<Napi::Number>().Int64Value();
}

double GetDouble(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  if (!v.IsNumber()) throw noisynn::TypeError(std::string("Expected number for ") + key);
  return v.As<Napi::Number>().DoubleValue();
}

std::string GetString(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  if (!v.IsString()) throw noisynn::TypeError(std::string("Expected string for ") + key);
  return v.As<Napi::String>().Utf8Value();
}

bool GetBool(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  if (!v.IsBoolean()) throw noisynn::TypeError(std::string("Expected boolean for ") + key);
  return v.As<Napi::Boolean>().Value();
}

Napi::Object ExpectObject(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) throw noisynn::TypeError(std::string("Expected object for ") + what);
  return v.As<Napi::Object>();
}

models::NoiseSiteConfig ParseNoise(const Napi::Object& n) {
  models::NoiseSiteConfig c;
  c.params.kind = parse_noise_kind(GetString(n, "kind"));
  c.params.strength = GetDouble(n, "strength");
  c.params.mean = GetDouble(n, "mean");
  c.params.std = GetDouble(n, "std");
  c.params.seed = ParseU64Decimal(GetString(n, "seed"), "noise.seed");
  c.params.detach = GetBool(n, "detach");
  c.axis = models::parse_noise_axis(GetString(n, "axis"));
  c.when = models::parse_noise_when(GetString(n, "when"));
  c.site = models::parse_noise_site(GetString(n, "site"));
  c.layer = GetInt(n, "layer");
  c.stage = GetInt(n, "stage");
  c.block = GetInt(n, "block");
  return c;
}

models::VitConfig ParseVitConfig(const Napi::Object& o) {
  models::VitConfig c;
  c.image_size = GetInt(o, "imageSize");
  c.patch_size = GetInt(o, "patchSize");
  c.in_channels = GetInt(o, "inChannels");
  c.num_classes = GetInt(o, "numClasses");
  c.embed_dim = GetInt(o, "embedDim");
  c.depth = GetInt(o, "depth");
  c.num_heads = GetInt(o, "numHeads");
  c.mlp_ratio = GetDouble(o, "mlpRatio");
  c.dropout = GetDouble(o, "dropout");
  c.drop_path = GetDouble(o, "dropPath");
  c.init_seed = ParseU64Decimal(GetString(o, "initSeed"), "initSeed");
  return c;
}

models::ResNetConfig ParseResNetConfig(const Napi::Object& o) {
  models::ResNetConfig c;
  c.block = models::parse_resnet_block(GetString(o, "block"));
  Napi::Value layers = Field(o, "layers");
  if (!layers.IsArray() || layers.As<Napi::Array>().Length() != 4) throw noisynn::TypeError("Expected an array of 4 integers for layers");
  Napi::Array arr = layers.As<Napi::Array>();
  for (uint32_t i = 0; i < 4; ++i) {
    Napi::Value v = arr.Get(i);
    if (!v.IsNumber()) throw noisynn::TypeError("Expected an array of 4 integers for layers");
    c.layers[i] = v.As<Napi::Number>().Int64Value();
  }
  c.in_channels = GetInt(o, "inChannels");
  c.num_classes = GetInt(o, "numClasses");
  c.stem = models::parse_resnet_stem(GetString(o, "stem"));
  c.init_seed = ParseU64Decimal(GetString(o, "initSeed"), "initSeed");
  return c;
}

Napi::Array StringArray(Napi::Env env, const std::vector<std::string>& items) {
  Napi::Array out = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, items[i]));
  return out;
}

}  // namespace

// ---- the handle ----

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(env, "NativeModel", {
        InstanceMethod<&ModelWrap::Forward>("forward"),
        InstanceMethod<&ModelWrap::SetTraining>("setTraining"),
        InstanceMethod<&ModelWrap::IsTraining>("isTraining"),
        InstanceMethod<&ModelWrap::To>("to"),
        InstanceMethod<&ModelWrap::Device>("device"),
        InstanceMethod<&ModelWrap::NumParameters>("numParameters"),
        InstanceMethod<&ModelWrap::ParameterNames>("parameterNames"),
        InstanceMethod<&ModelWrap::StateNames>("stateNames"),
        InstanceMethod<&ModelWrap::SetNoise>("setNoise"),
        InstanceMethod<&ModelWrap::NoiseOffset>("noiseOffset"),
        InstanceMethod<&ModelWrap::SetNoiseOffset>("setNoiseOffset"),
        InstanceMethod<&ModelWrap::SaveWeights>("saveWeights"),
        InstanceMethod<&ModelWrap::LoadWeights>("loadWeights"),
        InstanceMethod<&ModelWrap::Dispose>("dispose"),
        InstanceMethod<&ModelWrap::IsDisposed>("isDisposed"),
    });
    GetAddonData(env)->modelCtor = Napi::Persistent(ctor);
    exports.Set("NativeModel", ctor);
  }

  static Napi::Object New(Napi::Env env, std::shared_ptr<models::Model> model) {
    Napi::Object obj = GetAddonData(env)->modelCtor.New({});
    ModelWrap* w = Napi::ObjectWrap<ModelWrap>::Unwrap(obj);
    w->model_ = std::move(model);
    w->Report(w->model_->state_bytes());
    return obj;
  }

  static bool IsModel(Napi::Value v) {
    return v.IsObject() && v.As<Napi::Object>().InstanceOf(GetAddonData(v.Env())->modelCtor.Value());
  }

  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}

  ~ModelWrap() override {
    if (reported_ != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -reported_);
  }

  std::shared_ptr<models::Model> Get(Napi::Env env) const {
    if (!model_) throw Napi::Error::New(env, "Model has been disposed");
    return model_;
  }

 private:
  void Report(int64_t bytes) {
    int64_t delta = bytes - reported_;
    if (delta != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), delta);
    reported_ = bytes;
  }

  // forward(x): Promise<NativeTensor>. Logits without autograd history (training goes through
  // the native trainer, which calls Model::forward itself).
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      std::shared_ptr<models::Model> model = Get(info.Env());
      at::Tensor x = UnwrapTensor(info[0], "x");
      auto out = std::make_shared<at::Tensor>();
      return TaskWorker::Run(
          info.Env(), "noisynn.model.forward",
          [model, x, out]() {
            std::lock_guard<std::mutex> lock(model->mutex());
            torch::NoGradGuard no_grad;
            *out = model->forward(x);
          },
          [out](Napi::Env env) -> Napi::Value { return TensorWrap::New(env, *out); });
    });
  }

  Napi::Value SetTraining(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto model = Get(info.Env());
      std::lock_guard<std::mutex> lock(model->mutex());
      model->train(info[0].ToBoolean().Value());
      return info.Env().Undefined();
    });
  }

  Napi::Value IsTraining(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value { return Napi::Boolean::New(info.Env(), Get(info.Env())->is_training()); });
  }

  Napi::Value To(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto model = Get(info.Env());
      at::Device dev = ParseDevice(info[0].As<Napi::String>().Utf8Value());
      std::lock_guard<std::mutex> lock(model->mutex());
      model->to(dev);
      return info.Env().Undefined();
    });
  }

  Napi::Value Device(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value { return Napi::String::New(info.Env(), DeviceString(Get(info.Env())->device())); });
  }

  Napi::Value NumParameters(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(), static_cast<double>(Get(info.Env())->num_parameters()));
    });
  }

  Napi::Value ParameterNames(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      std::vector<std::string> names;
      for (const auto& item : Get(info.Env())->named_parameters()) names.push_back(item.key());
      return StringArray(info.Env(), names);
    });
  }

  Napi::Value StateNames(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      std::vector<std::string> names;
      for (const auto& kv : Get(info.Env())->state_dict()) names.push_back(kv.first);
      return StringArray(info.Env(), names);
    });
  }

  Napi::Value SetNoise(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto model = Get(info.Env());
      models::NoiseSiteConfig c = ParseNoise(ExpectObject(info[0], "noise"));
      std::lock_guard<std::mutex> lock(model->mutex());
      model->set_noise(c);
      return info.Env().Undefined();
    });
  }

  Napi::Value NoiseOffset(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      return Napi::String::New(info.Env(), std::to_string(Get(info.Env())->noise_offset()));
    });
  }

  Napi::Value SetNoiseOffset(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      Get(info.Env())->set_noise_offset(ParseU64Decimal(info[0].As<Napi::String>().Utf8Value(), "offset"));
      return info.Env().Undefined();
    });
  }

  // saveWeights(path): Promise<void>, written off the JS thread.
  Napi::Value SaveWeights(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto model = Get(info.Env());
      std::string path = info[0].As<Napi::String>().Utf8Value();
      return TaskWorker::Run(
          info.Env(), "noisynn.model.saveWeights",
          [model, path]() {
            std::lock_guard<std::mutex> lock(model->mutex());
            models::save_weights(*model, path);
          },
          nullptr);
    });
  }

  // loadWeights(path, strict): Promise<{loaded, missing, unexpected, mismatched}>.
  Napi::Value LoadWeights(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto model = Get(info.Env());
      std::string path = info[0].As<Napi::String>().Utf8Value();
      bool strict = info[1].ToBoolean().Value();
      auto report = std::make_shared<models::LoadReport>();
      return TaskWorker::Run(
          info.Env(), "noisynn.model.loadWeights",
          [model, path, strict, report]() {
            std::lock_guard<std::mutex> lock(model->mutex());
            *report = models::load_weights(*model, path, strict);
          },
          [report](Napi::Env env) -> Napi::Value {
            Napi::Object out = Napi::Object::New(env);
            out.Set("loaded", StringArray(env, report->loaded));
            out.Set("missing", StringArray(env, report->missing));
            out.Set("unexpected", StringArray(env, report->unexpected));
            out.Set("mismatched", StringArray(env, report->mismatched));
            return out;
          });
    });
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    // Drops this handle's reference; a forward still in flight keeps its own until it settles.
    model_.reset();
    Report(0);
    return info.Env().Undefined();
  }

  Napi::Value IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !model_); }

  std::shared_ptr<models::Model> model_;
  int64_t reported_ = 0;  // bytes reported to V8 via AdjustExternalMemory
};

std::shared_ptr<models::Model> UnwrapModel(Napi::Value value, const char* what) {
  if (!ModelWrap::IsModel(value)) throw Napi::TypeError::New(value.Env(), std::string("Expected NativeModel for ") + what);
  return Napi::ObjectWrap<ModelWrap>::Unwrap(value.As<Napi::Object>())->Get(value.Env());
}

namespace {

// createVit(config, noise) / createResNet(config, noise): the flat configs of lib/models.ts.
Napi::Value CreateVit(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    models::VitConfig config = ParseVitConfig(ExpectObject(info[0], "config"));
    models::NoiseSiteConfig noise = ParseNoise(ExpectObject(info[1], "noise"));
    auto model = std::make_shared<models::VisionTransformer>(config);
    model->set_noise(noise);
    return ModelWrap::New(info.Env(), model);
  });
}

Napi::Value CreateResNet(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    models::ResNetConfig config = ParseResNetConfig(ExpectObject(info[0], "config"));
    models::NoiseSiteConfig noise = ParseNoise(ExpectObject(info[1], "noise"));
    auto model = std::make_shared<models::ResNet>(config);
    model->set_noise(noise);
    return ModelWrap::New(info.Env(), model);
  });
}

// Test support: applies a noise site to a tensor exactly as a model would. layout 'tokens'
// takes [B, 1 + gridH*gridW, C]; 'featureMap' takes [B, C, H, W]. Ignores `when`.
Napi::Value NoiseSiteProbe(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor x = UnwrapTensor(info[0], "x");
    models::NoiseSite site;
    site.configure(ParseNoise(ExpectObject(info[1], "noise")));
    std::string layout = info[2].As<Napi::String>().Utf8Value();
    site.set_offset(ParseU64Decimal(info[3].As<Napi::String>().Utf8Value(), "offset"));
    torch::NoGradGuard no_grad;
    if (layout == "tokens") {
      return TensorWrap::New(info.Env(), site.apply_to_tokens(x, info[4].As<Napi::Number>().Int64Value(), info[5].As<Napi::Number>().Int64Value()));
    }
    if (layout == "featureMap") return TensorWrap::New(info.Env(), site.apply_to_feature_map(x));
    throw noisynn::RangeError("Expected 'tokens' or 'featureMap' for layout but received '" + layout + "'");
  });
}

// Benchmark support: the noise site alone on tokens [B, 1 + gridH*gridW, C], forward and
// backward (with a fixed output gradient), as inside a training step; seconds per iteration.
Napi::Value BenchNoiseSite(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor x = UnwrapTensor(info[0], "x");
    auto site = std::make_shared<models::NoiseSite>();
    site->configure(ParseNoise(ExpectObject(info[1], "noise")));
    int64_t grid_h = info[2].As<Napi::Number>().Int64Value();
    int64_t grid_w = info[3].As<Napi::Number>().Int64Value();
    int64_t iterations = info[4].As<Napi::Number>().Int64Value();
    if (iterations < 1) throw noisynn::RangeError("Expected positive integer for iterations");
    auto times = std::make_shared<std::vector<double>>();
    return TaskWorker::Run(
        info.Env(), "noisynn.model.benchNoiseSite",
        [x, site, grid_h, grid_w, iterations, times]() {
          at::Tensor input = x.detach().clone().requires_grad_(true);
          at::Tensor grad = at::ones_like(input);
          for (int64_t i = 0; i < iterations; ++i) {
            auto start = std::chrono::steady_clock::now();
            site->apply_to_tokens(input, grid_h, grid_w).backward(grad);
            input.mutable_grad().reset();
            times->push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          }
        },
        [times](Napi::Env env) -> Napi::Value {
          Napi::Array out = Napi::Array::New(env, times->size());
          for (size_t i = 0; i < times->size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, (*times)[i]));
          return out;
        });
  });
}

// Benchmark support: `iterations` training steps (zero grads, forward, cross-entropy, backward)
// in the model's current mode, timed natively; resolves to the seconds of each step.
Napi::Value BenchTrainStep(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    auto model = UnwrapModel(info[0], "model");
    at::Tensor x = UnwrapTensor(info[1], "x");
    at::Tensor labels = UnwrapTensor(info[2], "labels");
    int64_t iterations = info[3].As<Napi::Number>().Int64Value();
    if (iterations < 1) throw noisynn::RangeError("Expected positive integer for iterations");
    auto times = std::make_shared<std::vector<double>>();
    return TaskWorker::Run(
        info.Env(), "noisynn.model.benchTrainStep",
        [model, x, labels, iterations, times]() {
          std::lock_guard<std::mutex> lock(model->mutex());
          for (int64_t i = 0; i < iterations; ++i) {
            auto start = std::chrono::steady_clock::now();
            model->zero_grad();
            at::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), labels);
            loss.backward();
            times->push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
          }
        },
        [times](Napi::Env env) -> Napi::Value {
          Napi::Array out = Napi::Array::New(env, times->size());
          for (size_t i = 0; i < times->size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, (*times)[i]));
          return out;
        });
  });
}

}  // namespace

void InitModels(Napi::Env env, Napi::Object exports) {
  ModelWrap::Init(env, exports);
  exports.Set("createVit", Napi::Function::New<CreateVit>(env, "createVit"));
  exports.Set("createResNet", Napi::Function::New<CreateResNet>(env, "createResNet"));
  exports.Set("noiseSiteProbe", Napi::Function::New<NoiseSiteProbe>(env, "noiseSiteProbe"));
  exports.Set("benchTrainStep", Napi::Function::New<BenchTrainStep>(env, "benchTrainStep"));
  exports.Set("benchNoiseSite", Napi::Function::New<BenchNoiseSite>(env, "benchNoiseSite"));
}

}  // namespace napi
}  // namespace noisynn
