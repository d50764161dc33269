// Per-environment state of the addon (constructors kept alive for instanceof checks).
#pragma once

#include <napi.h>

namespace noisynn {
namespace napi {

struct AddonData {
  Napi::FunctionReference tensorCtor;
  Napi::FunctionReference modelCtor;  // models (issue 3)
  // data (issue 4)
  Napi::FunctionReference datasetCtor;
  Napi::FunctionReference loaderCtor;
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace napi
}  // namespace noisynn
