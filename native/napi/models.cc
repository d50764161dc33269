// Models for JS: creation from a validated flat config, forward off the JS thread, weights I/O.
#include "napi/models.h"

#include <string>
#include <vector>

#include "models/resnet.h"
#include "models/vit.h"
#include "models/weights.h"
#include "napi/addon_data.h"
#include "napi/async.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace noisynn {
namespace napi {

namespace {

// ---- the flat configs of lib/models.ts (validated and defaulted there) ----

models::VitConfig ReadVitConfig(const ConfigReader& r) {
  models::VitConfig c;
  c.image_size = r.Int("imageSize");
  c.patch_size = r.Int("patchSize");
  c.in_channels = r.Int("inChannels");
  c.num_classes = r.Int("numClasses");
  c.embed_dim = r.Int("embedDim");
  c.depth = r.Int("depth");
  c.num_heads = r.Int("numHeads");
  c.mlp_ratio = r.Double("mlpRatio");
  c.dropout = r.Double("dropout");
  c.drop_path = r.Double("dropPath");
  c.init_seed = r.U64("initSeed");
  return c;
}

models::ResNetConfig ReadResNetConfig(const ConfigReader& r) {
  models::ResNetConfig c;
  c.block = models::parse_resnet_block(r.String("block"));
  const std::vector<int64_t> layers = r.Ints("layers");
  if (layers.size() != 4) throw noisynn::RangeError("Expected an array of 4 integers for " + r.name() + ".layers");
  for (size_t i = 0; i < 4; ++i) c.layers[i] = layers[i];
  c.in_channels = r.Int("inChannels");
  c.num_classes = r.Int("numClasses");
  c.stem = models::parse_resnet_stem(r.String("stem"));
  c.init_seed = r.U64("initSeed");
  return c;
}

Napi::Array StringArray(Napi::Env env, const std::vector<std::string>& items) {
  Napi::Array out = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, items[i]));
  return out;
}

}  // namespace

models::NoiseSiteConfig ReadNoiseSite(const ConfigReader& r) {
  models::NoiseSiteConfig c;
  c.params.kind = parse_noise_kind(r.String("kind"));
  c.params.strength = r.Double("strength");
  c.params.mean = r.Double("mean");
  c.params.std = r.Double("std");
  c.params.seed = r.U64("seed");
  c.params.detach = r.Bool("detach");
  c.axis = models::parse_noise_axis(r.String("axis"));
  c.when = models::parse_noise_when(r.String("when"));
  c.site = models::parse_noise_site(r.String("site"));
  c.layer = r.Int("layer");
  c.stage = r.Int("stage");
  c.block = r.Int("block");
  if (r.Has("scope")) c.scope = models::parse_noise_scope(r.String("scope"));
  return c;
}

// ---- the handle ----

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    const std::vector<PropertyDescriptor> methods = {
        InstanceMethod<&ModelWrap::Forward>("forward"),
        InstanceMethod<&ModelWrap::SetTraining>("setTraining"),
        InstanceMethod<&ModelWrap::IsTraining>("isTraining"),
        InstanceMethod<&ModelWrap::To>("to"),
        InstanceMethod<&ModelWrap::Device>("device"),
        InstanceMethod<&ModelWrap::NumParameters>("numParameters"),
        InstanceMethod<&ModelWrap::ParameterNames>("parameterNames"),
        InstanceMethod<&ModelWrap::StateNames>("stateNames"),
        InstanceMethod<&ModelWrap::StateShapes>("stateShapes"),
        InstanceMethod<&ModelWrap::SetNoise>("setNoise"),
        InstanceMethod<&ModelWrap::NoiseOffset>("noiseOffset"),
        InstanceMethod<&ModelWrap::SetNoiseOffset>("setNoiseOffset"),
        InstanceMethod<&ModelWrap::SaveWeights>("saveWeights"),
        InstanceMethod<&ModelWrap::LoadWeights>("loadWeights"),
        InstanceMethod<&ModelWrap::Dispose>("dispose"),
        InstanceMethod<&ModelWrap::IsDisposed>("isDisposed"),
    };
    Napi::Function ctor = DefineClass(env, "NativeModel", methods);
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
    return Guard(
        info, [&]() -> Napi::Value { return Napi::String::New(info.Env(), DeviceString(Get(info.Env())->device())); });
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

  // stateShapes(): [name, shape][] of everything saveWeights writes (what a checkpoint must match).
  Napi::Value StateShapes(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      const auto state = Get(env)->state_dict();
      Napi::Array out = Napi::Array::New(env, state.size());
      for (size_t i = 0; i < state.size(); ++i) {
        Napi::Array dims = Napi::Array::New(env, state[i].second.dim());
        for (int64_t d = 0; d < state[i].second.dim(); ++d)
          dims.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(state[i].second.size(d))));
        Napi::Array entry = Napi::Array::New(env, 2);
        entry.Set(0u, Napi::String::New(env, state[i].first));
        entry.Set(1u, dims);
        out.Set(static_cast<uint32_t>(i), entry);
      }
      return out;
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
      models::NoiseSiteConfig c = ReadNoiseSite(ConfigReader(info[0], "noise"));
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
  if (!ModelWrap::IsModel(value))
    throw Napi::TypeError::New(value.Env(), std::string("Expected NativeModel for ") + what);
  return Napi::ObjectWrap<ModelWrap>::Unwrap(value.As<Napi::Object>())->Get(value.Env());
}

namespace {

// createVit(config, noise) / createResNet(config, noise): the flat configs of lib/models.ts.
Napi::Value CreateVit(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    models::VitConfig config = ReadVitConfig(ConfigReader(info[0], "config"));
    models::NoiseSiteConfig noise = ReadNoiseSite(ConfigReader(info[1], "noise"));
    auto model = std::make_shared<models::VisionTransformer>(config);
    model->set_noise(noise);
    return ModelWrap::New(info.Env(), model);
  });
}

Napi::Value CreateResNet(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    models::ResNetConfig config = ReadResNetConfig(ConfigReader(info[0], "config"));
    models::NoiseSiteConfig noise = ReadNoiseSite(ConfigReader(info[1], "noise"));
    auto model = std::make_shared<models::ResNet>(config);
    model->set_noise(noise);
    return ModelWrap::New(info.Env(), model);
  });
}

}  // namespace

void InitModels(Napi::Env env, Napi::Object exports) {
  ModelWrap::Init(env, exports);
  exports.Set("createVit", Napi::Function::New<CreateVit>(env, "createVit"));
  exports.Set("createResNet", Napi::Function::New<CreateResNet>(env, "createResNet"));
}

}  // namespace napi
}  // namespace noisynn
