// Entry point of the addon: registers each API area's exports and nothing else.
#include <napi.h>

#include "common/shutdown.h"
#include "common/threads.h"
#include "napi/addon_data.h"
#include "napi/tensor.h"

namespace noisynn {
namespace napi {
void InitOps(Napi::Env env, Napi::Object exports);
void InitModels(Napi::Env env, Napi::Object exports);
void InitData(Napi::Env env, Napi::Object exports);
void InitTrain(Napi::Env env, Napi::Object exports);
void InitDist(Napi::Env env, Napi::Object exports);
void InitTesting(Napi::Env env, Napi::Object exports);  // the `_testing` object (napi/testing.cc)
}  // namespace napi
}  // namespace noisynn

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace noisynn::napi;
  env.SetInstanceData(new AddonData());
  noisynn::apply_runtime_defaults();
  // Once per process, now that libtorch's static objects exist: exit() then waits for the native
  // work in flight before their destructors run (a training step on exit crashed the process).
  noisynn::shutdown::install_exit_handler();
  TensorWrap::Init(env, exports);
  InitOps(env, exports);
  InitModels(env, exports);
  InitData(env, exports);
  InitTrain(env, exports);
  InitDist(env, exports);
  InitTesting(env, exports);
  return exports;
}

NODE_API_MODULE(noisynn, Init)
