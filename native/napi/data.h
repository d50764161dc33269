// The JS handles of datasets and loaders, and how other native areas reach what they hold.
//
// The trainer (or any native code) pulls batches without going through JS:
//
//   std::shared_ptr<noisynn::data::BatchLoader> loader = noisynn::napi::UnwrapLoader(info[0]);
//   loader->reset(epoch);
//   while (auto batch = loader->next()) { ... }  // off the JS thread, e.g. in a TaskWorker
//
// The shared_ptr keeps the loader (and its dataset) alive while native code uses it, even if
// the JS object is collected meanwhile. Do not interleave native and JS passes over one loader:
// reset() supersedes a JS pass in progress (its next batch rejects), and vice versa.
#pragma once

#include <napi.h>

#include <memory>

#include "data/dataset.h"
#include "data/loader.h"

namespace noisynn {
namespace napi {

// The BatchLoader behind a NativeLoader handle (lib/dataloader.ts's DataLoader keeps one per
// dataset/options pair); throws a JS TypeError naming `what` for anything else.
std::shared_ptr<data::BatchLoader> UnwrapLoader(Napi::Value value, const char* what = "loader");

// The dataset behind a NativeDataset handle; throws a JS TypeError naming `what` for anything else.
data::DatasetPtr UnwrapDataset(Napi::Value value, const char* what = "dataset");

void InitData(Napi::Env env, Napi::Object exports);

}  // namespace napi
}  // namespace noisynn
