// Per-environment state of the addon: the class constructors, kept for instanceof checks.
#pragma once

#include <napi.h>

namespace noisynn {
namespace napi {

struct AddonData {
  Napi::FunctionReference tensorCtor;
  Napi::FunctionReference modelCtor;
  Napi::FunctionReference datasetCtor;
  Napi::FunctionReference groupCtor;
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace napi
}  // namespace noisynn
