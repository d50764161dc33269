// Per-environment state of the addon (constructors kept alive for instanceof checks).
#pragma once

#include <napi.h>

namespace noisynn {
namespace napi {

struct AddonData {
  Napi::FunctionReference tensorCtor;
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace napi
}  // namespace noisynn
