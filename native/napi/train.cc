// The NativeTrainer handle: training steps, batch evaluation and optimizer state, each run off
// the JS thread and settled as a Promise.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "distributed/group.h"
#include "napi/async.h"
#include "napi/config.h"
#include "napi/distributed.h"
#include "napi/errors.h"
#include "napi/models.h"
#include "napi/tensor.h"
#include "train/trainer.h"

namespace noisynn {
namespace napi {

namespace {

// The flat options lib/trainer.ts builds (validated and defaulted there).
train::TrainerOptions ReadTrainerOptions(const ConfigReader& r) {
  train::TrainerOptions t;
  t.optimizer.kind = train::parse_optimizer_kind(r.String("optimizer"));
  t.optimizer.lr = r.Double("lr");
  t.optimizer.weight_decay = r.Double("weightDecay");
  t.optimizer.momentum = r.Double("momentum");
  t.optimizer.nesterov = r.Bool("nesterov");
  t.optimizer.beta1 = r.Double("beta1");
  t.optimizer.beta2 = r.Double("beta2");
  t.optimizer.eps = r.Double("eps");
  t.schedule.kind = train::parse_schedule_kind(r.String("schedule"));
  t.schedule.warmup_steps = r.Int("warmupSteps");
  t.schedule.total_steps = r.Int("totalSteps");
  t.schedule.min_lr = r.Double("minLr");
  t.schedule.step_size = r.Int("stepSize");
  t.schedule.gamma = r.Double("gamma");
  t.label_smoothing = r.Double("labelSmoothing");
  t.clip_grad_norm = r.Double("clipGradNorm");
  t.mixed_precision = r.Bool("mixedPrecision");
  t.seed = r.U64("seed");
  return t;
}

Napi::Object StepValue(Napi::Env env, const train::StepResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("lr", r.lr);
  o.Set("gradNorm", r.grad_norm);
  o.Set("correct", static_cast<double>(r.correct));
  o.Set("samples", static_cast<double>(r.samples));
  o.Set("stop", r.stop);
  return o;
}

Napi::Object EvalValue(Napi::Env env, const train::EvalResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("lossSum", r.loss_sum);
  o.Set("top1", static_cast<double>(r.top1));
  o.Set("top5", static_cast<double>(r.top5));
  o.Set("samples", static_cast<double>(r.samples));
  Napi::Uint8Array correct = Napi::Uint8Array::New(env, static_cast<size_t>(r.samples));
  if (r.samples > 0) std::memcpy(correct.Data(), r.correct.data_ptr<uint8_t>(), r.samples);
  o.Set("correct", correct);
  return o;
}

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    const std::vector<PropertyDescriptor> methods = {
        InstanceMethod<&TrainerWrap::Step>("step"),
        InstanceMethod<&TrainerWrap::Evaluate>("evaluate"),
        InstanceMethod<&TrainerWrap::LrAt>("lrAt"),
        InstanceMethod<&TrainerWrap::GetStep>("getStep"),
        InstanceMethod<&TrainerWrap::SetStep>("setStep"),
        InstanceMethod<&TrainerWrap::SetScheduleSpan>("setScheduleSpan"),
        InstanceMethod<&TrainerWrap::ScheduleOrigin>("scheduleOrigin"),
        InstanceMethod<&TrainerWrap::NoiseOffset>("noiseOffset"),
        InstanceMethod<&TrainerWrap::SetNoiseOffset>("setNoiseOffset"),
        InstanceMethod<&TrainerWrap::SaveState>("saveState"),
        InstanceMethod<&TrainerWrap::LoadState>("loadState"),
        InstanceMethod<&TrainerWrap::JoinGroup>("joinGroup"),
    };
    return DefineClass(env, "NativeTrainer", methods);
  }

  // new NativeTrainer(model: NativeModel, options: flat options)
  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    Guard(info, [&]() -> Napi::Value {
      std::shared_ptr<models::Model> model = UnwrapModel(info[0], "model");
      const ConfigReader options(info[1], "options");
      executor_ = std::make_unique<SerialExecutor>(static_cast<int>(options.Int("threads")));  // 0: the default
      trainer_ = std::make_shared<train::Trainer>(model, ReadTrainerOptions(options));
      return info.Env().Undefined();
    });
  }

 private:
  // step(images, labels, stop?) -> Promise<StepResult>
  Napi::Value Step(const Napi::CallbackInfo& info) {
    const bool stop = info.Length() > 2 && info[2].ToBoolean().Value();
    return RunOnBatch<train::StepResult>(
        info, "noisynn.trainStep",
        [stop](train::Trainer& t, const at::Tensor& x, const at::Tensor& y) { return t.step(x, y, stop); }, StepValue);
  }

  // evaluate(images, labels, valid?, localNoise?) -> Promise<EvalResult>, counting the first `valid` samples.
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    const int64_t valid = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : -1;
    const bool local_noise = info.Length() > 3 && info[3].ToBoolean().Value();
    return RunOnBatch<train::EvalResult>(
        info, "noisynn.evaluate",
        [valid, local_noise](train::Trainer& t, const at::Tensor& x, const at::Tensor& y) {
          return t.evaluate(x, y, valid, local_noise);
        },
        EvalValue);
  }

  // (images, labels, ...) -> Promise: `run` on this trainer's executor, its result converted by `value`.
  template <typename Result, typename Run>
  Napi::Value RunOnBatch(const Napi::CallbackInfo& info, const char* name, Run run,
                         Napi::Object (*value)(Napi::Env, const Result&)) {
    return Guard(info, [&]() -> Napi::Value {
      auto trainer = trainer_;
      at::Tensor images = UnwrapTensor(info[0], "images");
      at::Tensor labels = UnwrapTensor(info[1], "labels");
      auto result = std::make_shared<Result>();
      return executor_->Run(
          info.Env(), name, [=] { *result = run(*trainer, images, labels); },
          [=](Napi::Env env) -> Napi::Value { return value(env, *result); });
    });
  }

  // joinGroup(group) -> Promise<{ seed, noiseSeed }>: rank 0's seeds, now this trainer's and its model's.
  Napi::Value JoinGroup(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto trainer = trainer_;
      std::shared_ptr<dist::Group> group = UnwrapGroup(info[0], "group");
      return executor_->Run(
          info.Env(), "noisynn.joinGroup", [=] { trainer->join_group(group); },
          [=](Napi::Env env) -> Napi::Value {
            Napi::Object o = Napi::Object::New(env);
            o.Set("seed", std::to_string(trainer->options().seed));
            o.Set("noiseSeed", std::to_string(trainer->model().noise().params.seed));
            return o;
          });
    });
  }

  Napi::Value LrAt(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(), trainer_->lr_at(info[0].As<Napi::Number>().Int64Value()));
    });
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

  // setScheduleSpan(origin, total): the schedule restarts at global step `origin` and spans `total` steps.
  Napi::Value SetScheduleSpan(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      trainer_->set_schedule_span(info[0].As<Napi::Number>().Int64Value(), info[1].As<Napi::Number>().Int64Value());
      return info.Env().Undefined();
    });
  }

  Napi::Value ScheduleOrigin(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(trainer_->schedule_origin()));
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
      return executor_->Run(
          info.Env(), "noisynn.saveState", [=] { trainer->save_state(path); }, nullptr);
    });
  }

  Napi::Value LoadState(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto trainer = trainer_;
      std::string path = info[0].As<Napi::String>();
      return executor_->Run(
          info.Env(), "noisynn.loadState", [=] { trainer->load_state(path); }, nullptr);
    });
  }

  std::shared_ptr<train::Trainer> trainer_;
  // Every step, evaluation and state save/load of this trainer runs on one thread, in order,
  // with the trainer's own OpenMP team size (options.threads). Made in the constructor.
  std::unique_ptr<SerialExecutor> executor_;
};

}  // namespace

void InitTrain(Napi::Env env, Napi::Object exports) { exports.Set("NativeTrainer", TrainerWrap::Define(env)); }

}  // namespace napi
}  // namespace noisynn
