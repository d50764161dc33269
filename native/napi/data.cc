// Datasets and loaders for JS: their handles, the loader config, Promise-returning loads.
#include <napi.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"
#include "data/readers.h"
#include "napi/addon_data.h"
#include "napi/async.h"
#include "napi/config.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace noisynn {
namespace napi {

namespace {

// ---- the flat configs of lib/dataloader.ts and lib/transforms.ts (validated there) ----

data::TransformSpec ReadTransform(const ConfigReader& r) {
  data::TransformSpec s;
  const std::string kind = r.String("kind");
  if (kind == "randomCrop") {
    s.kind = data::TransformKind::RandomCrop;
    s.height = r.Int("height");
    s.width = r.Int("width");
    s.padding = r.Int("padding");
  } else if (kind == "centerCrop") {
    s.kind = data::TransformKind::CenterCrop;
    s.height = r.Int("height");
    s.width = r.Int("width");
  } else if (kind == "horizontalFlip" || kind == "verticalFlip") {
    s.kind = kind == "horizontalFlip" ? data::TransformKind::HorizontalFlip : data::TransformKind::VerticalFlip;
    s.p = r.Double("p");
  } else if (kind == "resize") {
    s.kind = data::TransformKind::Resize;
    s.height = r.Int("height");
    s.width = r.Int("width");
    s.nearest = r.String("interpolation") == "nearest";
  } else if (kind == "normalize") {
    s.kind = data::TransformKind::Normalize;
    s.mean = r.Floats("mean");
    s.std = r.Floats("std");
  } else {
    throw noisynn::RangeError("unknown transform kind '" + kind + "' in " + r.name());
  }
  return s;
}

data::Order ParseOrder(const std::string& s) {
  if (s == "shuffle") return data::Order::Shuffle;
  if (s == "sequential") return data::Order::Sequential;
  if (s == "classSorted") return data::Order::ClassSorted;
  throw noisynn::RangeError("unknown order '" + s + "'");
}

Napi::Array ShapeArray(Napi::Env env, std::initializer_list<int64_t> dims) {
  Napi::Array a = Napi::Array::New(env, dims.size());
  uint32_t i = 0;
  for (int64_t d : dims) a.Set(i++, Napi::Number::New(env, static_cast<double>(d)));
  return a;
}

// ---- NativeDataset ----

class DatasetWrap : public Napi::ObjectWrap<DatasetWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    const std::vector<PropertyDescriptor> methods = {
        InstanceMethod<&DatasetWrap::Length>("length"), InstanceMethod<&DatasetWrap::Shape>("shape"),
        InstanceMethod<&DatasetWrap::Dtype>("dtype"),   InstanceMethod<&DatasetWrap::NumClasses>("numClasses"),
        InstanceMethod<&DatasetWrap::Sample>("get"),    InstanceMethod<&DatasetWrap::Labels>("labels"),
    };
    Napi::Function ctor = DefineClass(env, "NativeDataset", methods);
    GetAddonData(env)->datasetCtor = Napi::Persistent(ctor);
    exports.Set("NativeDataset", ctor);
  }

  static Napi::Object New(Napi::Env env, data::DatasetPtr dataset) {
    Napi::Object obj = GetAddonData(env)->datasetCtor.New({});
    DatasetWrap* w = Napi::ObjectWrap<DatasetWrap>::Unwrap(obj);
    w->dataset_ = std::move(dataset);
    const auto& images = w->dataset_->images();
    w->reported_ = static_cast<int64_t>(images.numel() * images.element_size() + w->dataset_->labels().numel() * 8);
    Napi::MemoryManagement::AdjustExternalMemory(env, w->reported_);
    return obj;
  }

  explicit DatasetWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatasetWrap>(info) {}
  ~DatasetWrap() override {
    if (reported_ != 0) Napi::MemoryManagement::AdjustExternalMemory(Env(), -reported_);
  }

  const data::DatasetPtr& Get(Napi::Env env) const {
    if (!dataset_) throw Napi::Error::New(env, "NativeDataset handles are made by the dataset loaders only");
    return dataset_;
  }

 private:
  Napi::Value Length(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Get(info.Env())->size()));
  }
  Napi::Value Shape(const Napi::CallbackInfo& info) {
    const auto& d = Get(info.Env());
    return ShapeArray(info.Env(), {d->channels(), d->height(), d->width()});
  }
  Napi::Value Dtype(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), DtypeName(Get(info.Env())->dtype()));
  }
  Napi::Value NumClasses(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Get(info.Env())->num_classes()));
  }
  // get(i) -> {image: uint8|float32 [C, H, W] (a copy), label}
  Napi::Value Sample(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      const auto& d = Get(env);
      const int64_t i = info[0].As<Napi::Number>().Int64Value();
      if (i < 0 || i >= d->size()) {
        throw noisynn::RangeError("index " + std::to_string(i) + " is out of range for a dataset of " +
                                  std::to_string(d->size()) + " samples");
      }
      Napi::Object out = Napi::Object::New(env);
      out.Set("image", TensorWrap::New(env, d->images()[i].clone()));
      out.Set("label", Napi::Number::New(env, static_cast<double>(d->label(i))));
      return out;
    });
  }
  Napi::Value Labels(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value { return TensorWrap::New(info.Env(), Get(info.Env())->labels().clone()); });
  }

  data::DatasetPtr dataset_;
  int64_t reported_ = 0;
};

// The dataset behind a NativeDataset handle; a JS TypeError naming `what` for anything else.
data::DatasetPtr UnwrapDataset(Napi::Value value, const char* what) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(GetAddonData(env)->datasetCtor.Value())) {
    throw Napi::TypeError::New(env, std::string("Expected NativeDataset for ") + what);
  }
  return Napi::ObjectWrap<DatasetWrap>::Unwrap(value.As<Napi::Object>())->Get(env);
}

// Settles a Promise with a new NativeDataset built by `load` off the JS thread.
Napi::Promise LoadAsync(Napi::Env env, const char* name, std::function<data::DatasetPtr()> load,
                        std::shared_ptr<Napi::Reference<Napi::Value>> keepAlive = nullptr) {
  auto result = std::make_shared<data::DatasetPtr>();
  return TaskWorker::Run(
      env, name, [result, load]() { *result = load(); },
      [result, keepAlive](Napi::Env env) -> Napi::Value {
        if (keepAlive) keepAlive->Reset();
        return DatasetWrap::New(env, std::move(*result));
      });
}

// readIdxHeader(path) -> {typeCode, dims}
Napi::Value ReadIdxHeader(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    data::IdxHeader h = data::read_idx_header(info[0].As<Napi::String>().Utf8Value());
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("typeCode", Napi::Number::New(info.Env(), h.type_code));
    Napi::Array dims = Napi::Array::New(info.Env(), h.dims.size());
    for (uint32_t i = 0; i < h.dims.size(); ++i)
      dims.Set(i, Napi::Number::New(info.Env(), static_cast<double>(h.dims[i])));
    out.Set("dims", dims);
    return out;
  });
}

// loadIdx(imagesPath, labelsPath, numClasses) -> Promise<NativeDataset>
Napi::Value LoadIdx(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    std::string images = info[0].As<Napi::String>();
    std::string labels = info[1].As<Napi::String>();
    int64_t num_classes = info[2].As<Napi::Number>().Int64Value();
    return LoadAsync(info.Env(), "noisynn.loadIdx",
                     [=]() { return data::load_idx_dataset(images, labels, num_classes); });
  });
}

data::CifarFormat ReadCifarFormat(const ConfigReader& r) {
  data::CifarFormat f;
  f.label_bytes = r.Int("labelBytes");
  f.label_index = r.Int("labelIndex");
  f.num_classes = r.Int("numClasses");
  return f;
}

// cifarRecordCount(path, {labelBytes, labelIndex, numClasses}) -> number (from the file size)
Napi::Value CifarRecordCount(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    int64_t n = data::cifar_record_count(info[0].As<Napi::String>(), ReadCifarFormat(ConfigReader(info[1], "format")));
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  });
}

// loadCifar(files, {labelBytes, labelIndex, numClasses}) -> Promise<NativeDataset>
Napi::Value LoadCifar(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Array arr = info[0].As<Napi::Array>();
    std::vector<std::string> files;
    for (uint32_t i = 0; i < arr.Length(); ++i) files.push_back(arr.Get(i).As<Napi::String>());
    data::CifarFormat format = ReadCifarFormat(ConfigReader(info[1], "format"));
    return LoadAsync(info.Env(), "noisynn.loadCifar", [=]() { return data::load_cifar_dataset(files, format); });
  });
}

// datasetFromPixels(pixels: Uint8Array [N*H*W*C], [n, h, w, c], labels: Int32Array, numClasses)
//   -> Promise<NativeDataset>. The pixel buffer is read off the JS thread; the caller must not
//   modify it until the Promise settles (it is referenced until then).
Napi::Value DatasetFromPixels(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      throw noisynn::TypeError("datasetFromPixels expects a Uint8Array of pixels and an Int32Array of labels");
    }
    Napi::Uint8Array pixels = info[0].As<Napi::Uint8Array>();
    Napi::Array dims = info[1].As<Napi::Array>();
    int64_t d[4];
    for (uint32_t i = 0; i < 4; ++i) d[i] = dims.Get(i).As<Napi::Number>().Int64Value();
    Napi::Int32Array labelsArr = info[2].As<Napi::Int32Array>();
    const int64_t num_classes = info[3].As<Napi::Number>().Int64Value();
    if (d[0] < 0 || d[1] < 1 || d[2] < 1 || d[3] < 1 ||
        static_cast<uint64_t>(d[0] * d[1] * d[2] * d[3]) != pixels.ElementLength()) {
      throw noisynn::RangeError("pixel buffer of " + std::to_string(pixels.ElementLength()) +
                                " bytes does not match the image dimensions");
    }
    if (static_cast<int64_t>(labelsArr.ElementLength()) != d[0]) {
      throw noisynn::RangeError("expected one label per image");
    }
    // Labels are small: copy now. Pixels are large: read in place, keeping the buffer alive.
    at::Tensor labels = at::empty({d[0]}, at::TensorOptions().dtype(at::kLong));
    for (int64_t i = 0; i < d[0]; ++i) labels.data_ptr<int64_t>()[i] = labelsArr[static_cast<size_t>(i)];
    auto keep = std::make_shared<Napi::Reference<Napi::Value>>(Napi::Persistent(info[0]));
    const uint8_t* data = pixels.Data();
    return LoadAsync(
        env, "noisynn.datasetFromPixels",
        [=]() { return data::dataset_from_hwc_pixels(data, d[0], d[1], d[2], d[3], labels, num_classes); }, keep);
  });
}

// datasetFromTensors(images: NativeTensor [N, C, H, W] or [N, H, W], uint8|float32, labels: NativeTensor int64 [N],
//   numClasses) -> NativeDataset (copies)
Napi::Value DatasetFromTensors(const Napi::CallbackInfo& info) {
  return Guard(info, [&]() -> Napi::Value {
    at::Tensor images = UnwrapTensor(info[0], "images").detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true);
    at::Tensor labels = UnwrapTensor(info[1], "labels").detach().to(at::kCPU, at::kLong, false, /*copy=*/true);
    const int64_t num_classes = info[2].As<Napi::Number>().Int64Value();
    if (images.dim() == 3) images = images.unsqueeze(1);  // [N, H, W]: one channel
    return DatasetWrap::New(info.Env(), std::make_shared<const data::Dataset>(images, labels, num_classes));
  });
}

// ---- NativeLoader ----

class LoaderWrap : public Napi::ObjectWrap<LoaderWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    const std::vector<PropertyDescriptor> methods = {
        InstanceMethod<&LoaderWrap::Length>("length"),   InstanceMethod<&LoaderWrap::SampleShape>("sampleShape"),
        InstanceMethod<&LoaderWrap::Start>("start"),     InstanceMethod<&LoaderWrap::Next>("next"),
        InstanceMethod<&LoaderWrap::TryNext>("tryNext"), InstanceMethod<&LoaderWrap::Stop>("stop"),
        InstanceMethod<&LoaderWrap::Dispose>("dispose"),
    };
    Napi::Function ctor = DefineClass(env, "NativeLoader", methods);
    exports.Set("NativeLoader", ctor);
  }

  // new NativeLoader(dataset: NativeDataset, config: NativeLoaderConfig)
  explicit LoaderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LoaderWrap>(info) {
    // ObjectWrap constructors only forward Napi::Error to JS: translate everything else here.
    Guard(info, [&]() -> Napi::Value {
      data::DatasetPtr dataset = UnwrapDataset(info[0], "dataset");
      ConfigReader c(info[1], "config");
      data::LoaderOptions o;
      o.batch_size = c.Int("batchSize");
      o.order = ParseOrder(c.String("order"));
      o.seed = c.U64("seed");
      o.drop_last = c.Bool("dropLast");
      o.num_workers = c.Int("numWorkers");
      o.prefetch = c.Int("prefetch");
      o.device = ParseDevice(c.String("device"));
      if (c.Has("shardWorld")) {
        o.shard_rank = c.Int("shardRank");
        o.shard_world = c.Int("shardWorld");
      }
      for (const ConfigReader& t : c.Objects("transforms")) o.transforms.push_back(ReadTransform(t));
      loader_ = std::make_shared<data::BatchLoader>(std::move(dataset), std::move(o));
      return info.Env().Undefined();
    });
  }

  const std::shared_ptr<data::BatchLoader>& Get(Napi::Env env) const {
    if (!loader_) throw Napi::Error::New(env, "DataLoader has been disposed");
    return loader_;
  }

 private:
  Napi::Value Length(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Get(info.Env())->size()));
  }
  Napi::Value SampleShape(const Napi::CallbackInfo& info) {
    auto s = Get(info.Env())->sample_shape();
    return ShapeArray(info.Env(), {s[0], s[1], s[2]});
  }
  // start(epoch) -> generation
  Napi::Value Start(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const int64_t epoch = info[0].As<Napi::Number>().Int64Value();
      return Napi::Number::New(info.Env(), static_cast<double>(Get(info.Env())->reset(epoch)));
    });
  }
  // {images, labels, indices, index, epoch}, or null at the end of the pass.
  static Napi::Value BatchValue(Napi::Env env, std::optional<data::Batch>& result) {
    if (!result.has_value()) return env.Null();
    data::Batch& b = *result;
    Napi::Object out = Napi::Object::New(env);
    out.Set("images", TensorWrap::New(env, std::move(b.images)));
    out.Set("labels", TensorWrap::New(env, std::move(b.labels)));
    out.Set("indices", TensorWrap::New(env, std::move(b.indices)));
    out.Set("index", Napi::Number::New(env, static_cast<double>(b.index)));
    out.Set("epoch", Napi::Number::New(env, static_cast<double>(b.epoch)));
    out.Set("valid", Napi::Number::New(env, static_cast<double>(b.valid)));
    result.reset();
    return out;
  }

  // next(generation) -> Promise<batch | null>: waits for the batch on a libuv pool thread.
  Napi::Value Next(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      std::shared_ptr<data::BatchLoader> loader = Get(info.Env());
      const uint64_t generation = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
      auto result = std::make_shared<std::optional<data::Batch>>();
      return TaskWorker::Run(
          info.Env(), "noisynn.loader.next", [loader, generation, result]() { *result = loader->next(generation); },
          [result](Napi::Env env) -> Napi::Value { return BatchValue(env, *result); });
    });
  }

  // tryNext(generation) -> batch | null, or undefined when the next batch is not finished yet.
  // Takes only a batch a worker has already built: no per-sample work on the JS thread.
  Napi::Value TryNext(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      const uint64_t generation = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
      std::optional<data::Batch> result;
      if (!Get(info.Env())->try_next(generation, &result)) return info.Env().Undefined();
      return BatchValue(info.Env(), result);
    });
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    return Guard(info, [&]() -> Napi::Value {
      Get(info.Env())->stop(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
      return info.Env().Undefined();
    });
  }

  // Ends a pass in progress and drops this handle's loader: its threads and prefetched batches
  // go as soon as no pending next() holds it. Idempotent.
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (loader_) {
      loader_->stop();
      loader_.reset();
    }
    return info.Env().Undefined();
  }

  std::shared_ptr<data::BatchLoader> loader_;
};

}  // namespace

void InitData(Napi::Env env, Napi::Object exports) {
  DatasetWrap::Init(env, exports);
  LoaderWrap::Init(env, exports);
  exports.Set("readIdxHeader", Napi::Function::New<ReadIdxHeader>(env, "readIdxHeader"));
  exports.Set("loadIdx", Napi::Function::New<LoadIdx>(env, "loadIdx"));
  exports.Set("cifarRecordCount", Napi::Function::New<CifarRecordCount>(env, "cifarRecordCount"));
  exports.Set("loadCifar", Napi::Function::New<LoadCifar>(env, "loadCifar"));
  exports.Set("datasetFromPixels", Napi::Function::New<DatasetFromPixels>(env, "datasetFromPixels"));
  exports.Set("datasetFromTensors", Napi::Function::New<DatasetFromTensors>(env, "datasetFromTensors"));
}

}  // namespace napi
}  // namespace noisynn
