// Entry point of the addon: registers each API area's exports and nothing else.
#include <napi.h>

#include "common/threads.h"

#include "napi/addon_data.h"
#include "napi/tensor.h"

namespace noisynn {
namespace napi {
void InitOps(Napi::Env env, Napi::Object exports);
void InitModels(Napi::Env env, Napi::Object exports);  // models (issue 3)
void InitData(Napi::Env env, Napi::Object exports);  // data (issue 4)
void InitTrain(Napi::Env env, Napi::Object exports);  // train (issue 5)
}  // namespace napi
}  // namespace noisynn

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace noisynn::napi;
  env.SetInstanceData(new AddonData());
  noisynn::use_all_cores_by_default();
  TensorWrap::Init(env, exports);
  InitOps(env, exports);
  InitModels(env, exports);  // models (issue 3)
  InitData(env, exports);  // data (issue 4)
  InitTrain(env, exports);  // train (issue 5)
  return exports;
}

NODE_API_MODULE(noisynn, Init)
