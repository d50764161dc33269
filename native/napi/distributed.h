// The NativeProcessGroup handle: a data-parallel group owned by a JS object.
#pragma once

#include <napi.h>

#include <memory>

#include "distributed/group.h"

namespace noisynn {
namespace napi {

// The group behind a NativeProcessGroup handle (for the trainer, which joins it). Throws a JS
// TypeError naming `what` for anything else.
std::shared_ptr<dist::Group> UnwrapGroup(Napi::Value value, const char* what = "group");

void InitDist(Napi::Env env, Napi::Object exports);

}  // namespace napi
}  // namespace noisynn
