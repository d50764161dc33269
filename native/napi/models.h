// The NativeModel handle: a NoisyViT / NoisyCNN owned by a JS object.
#pragma once

#include <napi.h>

#include <memory>

#include "models/model.h"
#include "napi/config.h"

namespace noisynn {
namespace napi {

// The model behind a NativeModel handle, shared with the caller (a worker may keep using it
// after JS disposes the handle). Throws a JS TypeError naming `what` for anything else, and an
// Error when the handle was disposed. For other API areas (the trainer) that take a model.
std::shared_ptr<models::Model> UnwrapModel(Napi::Value value, const char* what = "model");

// A model's noise site from the flat config lib/models.ts builds (NativeModelNoise).
models::NoiseSiteConfig ReadNoiseSite(const ConfigReader& r);

void InitModels(Napi::Env env, Napi::Object exports);

}  // namespace napi
}  // namespace noisynn
