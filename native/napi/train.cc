// The NativeTrainer handle: training steps, batch evaluation and optimizer state, each run off
// the JS thread and settled as a Promise.
#include <napi.h>

#include <memory>
#include <string>

#include "napi/errors.h"
#include "napi/models.h"
#include "napi/tensor.h"
#include "train/trainer.h"

namespace noisynn {
namespace napi {

namespace {

// The flat options object lib/trainer.ts builds (validated and defaulted there).
train::TrainerOptions ParseOptions(const Napi::Object& o) {
  train::TrainerOptions t;
  auto num = [&](const char* key) { return o.Get(key).As<Napi::Number>().DoubleValue(); };
  auto i64 = [&](const char* key) { return o.Get(key).As<Napi::Number>().Int64Value(); };
  t.optimizer.kind = train::parse_optimizer_kind(o.Get("optimizer").As<Napi::String>());
  t.optimizer.lr = num("lr");
  t.optimizer.weight_decay = num("weightDecay");
  t.optimizer.momentum = num("momentum");
  t.optimizer.nesterov = o.Get("nesterov").As<Napi::Boolean>();
  t.optimizer.beta1 = num("beta1");
  t.optimizer.beta2 = num("beta2");
  t.optimizer.eps = num("eps");
  t.schedule.kind = train::parse_schedule_kind(o.Get("schedule").As<Napi::String>());
  t.schedule.warmup_steps = i64("warmupSteps");
  t.schedule.total_steps = i64("totalSteps");
  t.schedule.min_lr = num("minLr");
  t.schedule.step_size = i64("stepSize");
  t.schedule.gamma = num("gamma");
  t.label_smoothing = num("labelSmoothing");
  t.clip_grad_norm = num("clipGradNorm");
  t.mixed_precision = o.Get("mixedPrecision").As<Napi::Boolean>();
  t.seed = ParseU64Decimal(o.Get("seed").As<Napi::String>(), "seed");
  return t;
}

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeTrainer", {
        InstanceMethod<&TrainerWrap::Step>("step"),
        InstanceMethod<&TrainerWrap::Evaluate>("evaluate"),
        InstanceMethod<&TrainerWrap::LrAt>("lrAt"),
        InstanceMethod<&TrainerWrap::GetStep>("getStep"),
        InstanceMethod<&TrainerWrap::SetStep>("setStep"),
        InstanceMethod<&TrainerWrap::SetTotalSteps>("setTotalSteps"),
        InstanceMethod<&TrainerWrap::NoiseOffset>("noiseOffset"),
        InstanceMethod<&TrainerWrap::SetNoiseOffset>("setNoiseOffset"),
        InstanceMethod<&TrainerWrap::SaveState>("saveState"),
        InstanceMethod<&TrainerWrap::LoadState>("loadState"),
    });
  }

  // new NativeTrainer(model: NativeModel, options: flat options)
  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    Guard(info, [&]() -> Napi::Value {
      std::shared_ptr<models::Model> model = UnwrapModel(info[0], "model");
      trainer_ = std::make_shared<train::Trainer>(model, ParseOptions(info[1].As<Napi::Object>()));
      return info.Env().Undefined();
    });
  }

 private:
  Napi::Value Step(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto trainer = trainer_;
      at::Tensor images = UnwrapTensor(info[0], "images");
      at::Tensor labels = UnwrapTensor(info[1], "labels");
      auto result = std::make_shared<train::StepResult>();
      return executor_->Run(
          info.Env(), "noisynn.trainStep", [=] { *result = trainer->step(images, labels); },
          [=](Napi::Env env) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("loss", result->loss);
            o.Set("lr", result->lr);
            o.Set("gradNorm", result->grad_norm);
            o.Set("correct", static_cast<double>(result->correct));
            o.Set("samples", static_cast<double>(result->samples));
            return o;
          });
    });
  }

  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto trainer = trainer_;
      at::Tensor images = UnwrapTensor(info[0], "images");
      at::Tensor labels = UnwrapTensor(info[1], "labels");
      auto result = std::make_shared<train::EvalResult>();
      return executor_->Run(
          info.Env(), "noisynn.evaluate", [=] { *result = trainer->evaluate(images, labels); },
          [=](Napi::Env env) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("lossSum", result->loss_sum);
            o.Set("top1", static_cast<double>(result->top1));
            o.Set("top5", static_cast<double>(result->top5));
            o.Set("samples", static_cast<double>(result->samples));
            Napi::Uint8Array correct = Napi::Uint8Array::New(env, static_cast<size_t>(result->samples));
            if (result->samples > 0) std::memcpy(correct.Data(), result->correct.data_ptr<uint8_t>(), result->samples);
            o.Set("correct", correct);
            return o;
          });
    });
  }

  Napi::Value LrAt(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value { return Napi::Number::New(info.Env(), trainer_->lr_at(info[0].As<Napi::Number>().Int64Value())); });
  }

  Napi::Value GetStep(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(trainer_->global_step()));
  }

  Napi::Value SetStep(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      trainer_->set_global_step(info[0].As<Napi::Number>().Int64Value());
      return info.Env().Undefined();
    });
  }

  Napi::Value SetTotalSteps(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      trainer_->set_total_steps(info[0].As<Napi::Number>().Int64Value());
      return info.Env().Undefined();
    });
  }

  Napi::Value NoiseOffset(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), std::to_string(trainer_->model().noise_offset()));
  }

  Napi::Value SetNoiseOffset(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      trainer_->model().set_noise_offset(ParseU64Decimal(info[0].As<Napi::String>(), "noiseOffset"));
      return info.Env().Undefined();
    });
  }

  Napi::Value SaveState(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto trainer = trainer_;
      std::string path = info[0].As<Napi::String>();
      return executor_->Run(info.Env(), "noisynn.saveState", [=] { trainer->save_state(path); }, nullptr);
    });
  }

  Napi::Value LoadState(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto trainer = trainer_;
      std::string path = info[0].As<Napi::String>();
      return executor_->Run(info.Env(), "noisynn.loadState", [=] { trainer->load_state(path); }, nullptr);
    });
  }

  std::shared_ptr<train::Trainer> trainer_;
  // Every step, evaluation and state save/load of this trainer runs on one thread, in order.
  std::unique_ptr<SerialExecutor> executor_ = std::make_unique<SerialExecutor>();
};

}  // namespace

void InitTrain(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTrainer", TrainerWrap::Define(env));
}

}  // namespace napi
}  // namespace noisynn
