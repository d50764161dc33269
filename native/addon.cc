// Entry point of the addon: registers each API area's exports and nothing else.
#include <ATen/Parallel.h>
#include <napi.h>

#include <cstdlib>
#include <thread>

#include "napi/addon_data.h"
#include "napi/tensor.h"

namespace noisynn {
namespace napi {
void InitOps(Napi::Env env, Napi::Object exports);
// models (issue 3): void InitModels(Napi::Env env, Napi::Object exports);
// data (issue 4): void InitData(Napi::Env env, Napi::Object exports);
// train (issue 5): void InitTrain(Napi::Env env, Napi::Object exports);
}  // namespace napi
}  // namespace noisynn

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  using namespace noisynn::napi;
  env.SetInstanceData(new AddonData());
  // libtorch defaults to the physical-core count it detects, which is 1 on some VMs; use every
  // core unless the user chose (OMP_NUM_THREADS, or noisynn's setNumThreads later).
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    const unsigned n = std::thread::hardware_concurrency();
    if (n > 0 && static_cast<int>(n) > at::get_num_threads()) at::set_num_threads(static_cast<int>(n));
  }
  TensorWrap::Init(env, exports);
  InitOps(env, exports);
  // models (issue 3): InitModels(env, exports);
  // data (issue 4): InitData(env, exports);
  // train (issue 5): InitTrain(env, exports);
  return exports;
}

NODE_API_MODULE(noisynn, Init)
