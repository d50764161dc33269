// createProcessGroup and the NativeProcessGroup handle: joining a group off the JS thread, and the
// few collectives lib/ issues itself (evaluation totals, agreeing to stop), in call order.
#include "napi/distributed.h"

#include <memory>
#include <string>
#include <vector>

#include "napi/addon_data.h"
#include "napi/async.h"
#include "napi/config.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace noisynn {
namespace napi {

namespace {

class GroupWrap : public Napi::ObjectWrap<GroupWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(env, "NativeProcessGroup",
                                      {
                                          InstanceMethod<&GroupWrap::Rank>("rank"),
                                          InstanceMethod<&GroupWrap::WorldSize>("worldSize"),
                                          InstanceMethod<&GroupWrap::Backend>("backend"),
                                          InstanceMethod<&GroupWrap::AllReduce>("allReduce"),
                                          InstanceMethod<&GroupWrap::Barrier>("barrier"),
                                      });
    GetAddonData(env)->groupCtor = Napi::Persistent(ctor);
  }

  static Napi::Object New(Napi::Env env, std::shared_ptr<dist::Group> group) {
    Napi::Object obj = GetAddonData(env)->groupCtor.New({});
    Unwrap(obj)->group_ = std::move(group);
    return obj;
  }

  static bool IsGroup(Napi::Value v) {
    return v.IsObject() && v.As<Napi::Object>().InstanceOf(GetAddonData(v.Env())->groupCtor.Value());
  }

  explicit GroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GroupWrap>(info) {}

  std::shared_ptr<dist::Group> group_;

 private:
  Napi::Value Rank(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(group_->rank()));
  }
  Napi::Value WorldSize(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(group_->world_size()));
  }
  Napi::Value Backend(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), dist::backend_name(group_->options().backend));
  }

  // allReduce(tensor, 'sum' | 'max') -> Promise<void>: reduces a contiguous tensor in place.
  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      at::Tensor t = UnwrapTensor(info[0], "tensor");
      TORCH_CHECK_VALUE(t.is_contiguous(), "allReduce: expected a contiguous tensor");
      const std::string op = info[1].As<Napi::String>();
      const dist::ReduceOp reduce = op == "max" ? dist::ReduceOp::Max : dist::ReduceOp::Sum;
      auto group = group_;
      return executor_->Run(
          info.Env(), "noisynn.allReduce",
          [group, t, reduce]() mutable { group->all_reduce(t, reduce, "all-reduce of evaluation totals").wait(); },
          nullptr);
    });
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      auto group = group_;
      return executor_->Run(
          info.Env(), "noisynn.barrier", [group] { group->barrier("barrier"); }, nullptr);
    });
  }

  std::unique_ptr<SerialExecutor> executor_ = std::make_unique<SerialExecutor>();
};

// The flat options lib/distributed.ts resolves (validated and defaulted there).
dist::GroupOptions ReadGroupOptions(const ConfigReader& r) {
  dist::GroupOptions o;
  o.backend = dist::parse_backend(r.String("backend"));
  o.rank = r.Int("rank");
  o.world_size = r.Int("worldSize");
  o.master_addr = r.String("masterAddr");
  o.master_port = r.Int("masterPort");
  o.timeout = std::chrono::milliseconds(r.Int("timeoutMs"));
  return o;
}

// createProcessGroup(options) -> Promise<NativeProcessGroup>: the rendezvous, on a pool thread.
Napi::Value CreateProcessGroup(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    const dist::GroupOptions options = ReadGroupOptions(ConfigReader(info[0], "distributed"));
    auto group = std::make_shared<std::shared_ptr<dist::Group>>();
    return TaskWorker::Run(
        info.Env(), "noisynn.createProcessGroup", [options, group] { *group = dist::Group::create(options); },
        [group](Napi::Env env) -> Napi::Value { return GroupWrap::New(env, *group); });
  });
}

}  // namespace

std::shared_ptr<dist::Group> UnwrapGroup(Napi::Value value, const char* what) {
  if (!GroupWrap::IsGroup(value))
    throw Napi::TypeError::New(value.Env(), std::string("Expected NativeProcessGroup for ") + what);
  return Napi::ObjectWrap<GroupWrap>::Unwrap(value.As<Napi::Object>())->group_;
}

void InitDist(Napi::Env env, Napi::Object exports) {
  GroupWrap::Init(env, exports);
  exports.Set("createProcessGroup", Napi::Function::New<CreateProcessGroup>(env, "createProcessGroup"));
  exports.Set("builtWithNccl", Napi::Boolean::New(env, dist::built_with_nccl()));
}

}  // namespace napi
}  // namespace noisynn
