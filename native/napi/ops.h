// The noise op's bindings (injectNoise) and the runtime report (info).
#pragma once

#include <napi.h>

#include "napi/config.h"
#include "ops/noise.h"

namespace noisynn {
namespace napi {

// The flat noise config lib/noise.ts builds (NativeNoiseConfig).
NoiseParams ReadNoiseParams(const ConfigReader& r);

void InitOps(Napi::Env env, Napi::Object exports);

}  // namespace napi
}  // namespace noisynn
