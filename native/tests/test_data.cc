// Native checks of the C++ loader API the trainer uses (no Node): exactly-once epochs, identical
// batches whatever the worker count, superseded passes, and CUDA delivery when a GPU is present.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/readers.h"
#include "tests/test_main.h"

using noisynn::data::Batch;
using noisynn::data::BatchLoader;
using noisynn::data::Dataset;
using noisynn::data::DatasetPtr;
using noisynn::data::LoaderOptions;
using noisynn::data::Order;
using noisynn::data::TransformKind;
using noisynn::data::TransformSpec;

namespace {

DatasetPtr make_dataset(int64_t n) {
  at::Tensor images = at::randint(0, 256, {n, 3, 8, 8}, at::TensorOptions().dtype(at::kLong)).to(at::kByte);
  at::Tensor labels = at::arange(n, at::TensorOptions().dtype(at::kLong)).remainder(4);
  return std::make_shared<const Dataset>(images, labels, 4);
}

LoaderOptions augmented(int64_t workers) {
  LoaderOptions o;
  o.batch_size = 7;
  o.seed = 2024;
  o.num_workers = workers;
  o.prefetch = 3;
  TransformSpec crop;
  crop.kind = TransformKind::RandomCrop;
  crop.height = crop.width = 6;
  crop.padding = 2;
  TransformSpec flip;
  flip.kind = TransformKind::HorizontalFlip;
  TransformSpec norm;
  norm.kind = TransformKind::Normalize;
  norm.mean = {0.5f, 0.4f, 0.3f};
  norm.std = {0.2f, 0.25f, 0.3f};
  o.transforms = {crop, flip, norm};
  return o;
}

std::vector<Batch> epoch(BatchLoader& loader, int64_t e) {
  std::vector<Batch> out;
  loader.reset(e);
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

}  // namespace

NN_TEST("loader: every sample once per epoch, identical batches for 0, 1 and 3 workers") {
  DatasetPtr ds = make_dataset(50);
  BatchLoader reference(ds, augmented(0));
  NN_EXPECT(reference.size() == 8, "ceil(50 / 7) batches, got " << reference.size());
  const std::vector<Batch> want = epoch(reference, 5);
  NN_EXPECT(want.size() == 8 && want.back().images.size(0) == 1, "short last batch");
  std::vector<int64_t> seen;
  for (const auto& b : want) {
    NN_EXPECT(b.images.sizes() == at::IntArrayRef({b.labels.size(0), 3, 6, 6}), "batch shape " << b.images.sizes());
    for (int64_t i = 0; i < b.indices.size(0); ++i) seen.push_back(b.indices[i].item<int64_t>());
  }
  std::sort(seen.begin(), seen.end());
  std::vector<int64_t> all(50);
  std::iota(all.begin(), all.end(), 0);
  NN_EXPECT(seen == all, "exactly once per epoch");
  for (int64_t workers : {1, 3}) {
    BatchLoader loader(ds, augmented(workers));
    const std::vector<Batch> got = epoch(loader, 5);
    NN_EXPECT(got.size() == want.size(), "batch count with " << workers << " workers");
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
      NN_EXPECT(at::equal(got[i].images, want[i].images) && at::equal(got[i].indices, want[i].indices),
                "batch " << i << " differs with " << workers << " workers");
    }
    const std::vector<Batch> other = epoch(loader, 6);
    NN_EXPECT(!at::equal(other[0].indices, want[0].indices), "another epoch reshuffles");
  }
  return true;
}

NN_TEST("loader: class-sorted order, dropLast, superseded passes") {
  DatasetPtr ds = make_dataset(30);
  LoaderOptions o;
  o.batch_size = 4;
  o.order = Order::ClassSorted;
  o.drop_last = true;
  o.num_workers = 2;
  BatchLoader loader(ds, o);
  NN_EXPECT(loader.size() == 7, "floor(30 / 4) batches with drop_last");
  std::vector<int64_t> labels;
  for (const auto& b : epoch(loader, 0)) {
    for (int64_t i = 0; i < b.labels.size(0); ++i) labels.push_back(b.labels[i].item<int64_t>());
  }
  NN_EXPECT(labels.size() == 28 && std::is_sorted(labels.begin(), labels.end()), "grouped by label");

  const uint64_t first = loader.reset(1);
  NN_EXPECT(loader.next(first).has_value(), "first pass yields");
  const uint64_t second = loader.reset(1);
  bool threw = false;
  try {
    loader.next(first);
  } catch (const noisynn::data::SupersededError&) {
    threw = true;
  }
  NN_EXPECT(threw, "a superseded pass throws");
  NN_EXPECT(loader.next(second)->index == 0, "the new pass starts at batch 0");
  loader.stop(second);
  return true;
}

NN_TEST("loader: cuda batches equal cpu batches") {
  if (!torch::cuda::is_available()) return false;
  DatasetPtr ds = make_dataset(40);
  LoaderOptions on_gpu = augmented(2);
  on_gpu.device = at::Device(at::kCUDA, 0);
  BatchLoader cpu(ds, augmented(2)), gpu(ds, on_gpu);
  const auto a = epoch(cpu, 3), b = epoch(gpu, 3);
  NN_EXPECT(a.size() == b.size(), "same batch count");
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    NN_EXPECT(b[i].images.is_cuda() && b[i].labels.is_cuda(), "delivered on the GPU");
    NN_EXPECT(at::equal(a[i].images, b[i].images.cpu()) && at::equal(a[i].labels, b[i].labels.cpu()), "batch " << i);
  }
  return true;
}

NN_TEST("readers: a plain IDX file reads in any build; a gzip one needs zlib, and says so without it") {
  // 2 images of 2x3 pixels: magic 0x00000803, dims 2, 2, 3, then 12 bytes.
  const std::string dir = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp");
  const std::string plain = dir + "/noisynn-test-plain.idx", gz = dir + "/noisynn-test-fake.idx.gz";
  {
    std::ofstream f(plain, std::ios::binary);
    const unsigned char header[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    f.write(reinterpret_cast<const char*>(header), sizeof header);
    for (int i = 0; i < 12; ++i) f.put(static_cast<char>(10 * i));
  }
  at::Tensor t = noisynn::data::read_idx(plain);
  NN_EXPECT(t.sizes() == at::IntArrayRef({2, 2, 3}) && t[1][1][2].item<int>() == 110, "plain IDX: " << t.sizes());
  {
    // gzip's magic and then garbage: zlib reports corrupt data; a build without zlib names zlib.
    std::ofstream f(gz, std::ios::binary);
    const unsigned char bytes[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef};
    f.write(reinterpret_cast<const char*>(bytes), sizeof bytes);
  }
  std::string message;
  try {
    noisynn::data::read_idx(gz);
  } catch (const std::exception& e) {
    message = e.what();
  }
#if NOISYNN_HAVE_ZLIB
  NN_EXPECT(message.find("gzip") != std::string::npos && message.find(gz) != std::string::npos,
            "with zlib: " << message);
#else
  NN_EXPECT(message.find("this build has no zlib") != std::string::npos, "without zlib: " << message);
#endif
  std::remove(plain.c_str());
  std::remove(gz.c_str());
  return true;
}
