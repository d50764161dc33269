// The batch loader: epoch orders and a pool of native threads that assemble transformed batches.
//
// This is also the C++ API for native training loops (no JS involved):
//
//   auto dataset = noisynn::data::load_idx_dataset(images, labels, 10);
//   noisynn::data::LoaderOptions o;
//   o.batch_size = 128; o.order = noisynn::data::Order::Shuffle; o.seed = 42;
//   o.transforms = {...};
//   noisynn::data::BatchLoader loader(dataset, o);
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.reset(epoch);                      // order and augmentations from (seed, epoch)
//     while (auto batch = loader.next()) {      // blocks until the next batch is ready
//       step(batch->images, batch->labels);     // float32 [B, C, H, W], int64 [B], on o.device
//     }
//   }
#pragma once

#include <ATen/ATen.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace noisynn {
namespace data {

enum class Order {
  Shuffle,     // a permutation drawn from (seed, epoch)
  Sequential,  // dataset order
  ClassSorted  // stable sort by label: batches of (mostly) one class, as the paper's evaluation read them
};

struct LoaderOptions {
  int64_t batch_size = 64;
  Order order = Order::Shuffle;
  uint64_t seed = 0;
  bool drop_last = false;
  // Threads that assemble batches; 0 assembles each batch on the thread that calls next().
  int64_t num_workers = 2;
  // Finished batches held ahead of the consumer (the bound on memory and on work ahead).
  int64_t prefetch = 4;
  std::vector<TransformSpec> transforms;
  at::Device device = at::Device(at::kCPU);
  // A data-parallel shard, with DistributedSampler's semantics: each epoch's order (identical on
  // every rank: the same seed) is padded by wrapping to a multiple of shard_world (cut down to one
  // under drop_last), and this shard takes its positions shard_rank, shard_rank + shard_world, ...
  int64_t shard_rank = 0;
  int64_t shard_world = 1;
};

struct Batch {
  at::Tensor images;   // float32 [B, C, H, W] on the loader's device
  at::Tensor labels;   // int64 [B] on the loader's device
  at::Tensor indices;  // int64 [B] on the CPU: the dataset index of each sample
  int64_t index = 0;   // position of this batch in the epoch
  int64_t epoch = 0;
  int64_t valid = 0;  // its first `valid` samples are the shard's own; the rest repeat others (padding)
};

// Thrown by next() when reset() or stop() started over while it waited.
struct SupersededError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The order in which an epoch visits the dataset's samples.
std::vector<int64_t> epoch_order(const Dataset& dataset, Order order, uint64_t seed, int64_t epoch);

// DistributedSampler's deal of an epoch's order to shard `rank` of `world` (see LoaderOptions).
// `*own` receives how many of the returned positions are the shard's own (the rest are padding,
// always at the end).
std::vector<int64_t> shard_of(const std::vector<int64_t>& order, int64_t rank, int64_t world, bool drop_last,
                              int64_t* own = nullptr);

class BatchLoader {
 public:
  // Validates the options (c10::ValueError, a JS RangeError). The worker threads start with the
  // first reset() and then stay, idle between epochs, until destruction.
  BatchLoader(DatasetPtr dataset, LoaderOptions options);
  // Stops and joins the workers.
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts epoch `epoch` from its first batch, abandoning any epoch in progress; returns the
  // generation that identifies this run (see next(generation)).
  uint64_t reset(int64_t epoch);
  // The next batch of the current epoch, std::nullopt once the epoch is exhausted (or before the
  // first reset()). Blocks until a worker has produced it; rethrows a worker's exception.
  std::optional<Batch> next();
  // As next(), for the run started by reset() that returned `generation`: throws
  // SupersededError if another reset() or stop() has happened since.
  std::optional<Batch> next(uint64_t generation);
  // next(generation) without blocking: false when the next batch is not ready yet; otherwise true
  // with *out set as next() would return it (std::nullopt at the end of the epoch). With
  // num_workers == 0 nothing is built ahead, so only the end of the epoch is ever ready.
  bool try_next(uint64_t generation, std::optional<Batch>* out);
  // Abandons the current epoch (idles the workers) if `generation` is still the current run.
  void stop(uint64_t generation);
  // Abandons whatever run is in progress: a next() waiting for it throws SupersededError.
  void stop();

  // Batches per epoch.
  size_t size() const { return static_cast<size_t>(num_batches_); }
  std::array<int64_t, 3> sample_shape() const { return pipeline_.output_shape(); }
  const LoaderOptions& options() const { return options_; }
  const DatasetPtr& dataset() const { return dataset_; }

  // Assembles batch `b` of the order (the work a worker does); public for tests and benchmarks.
  Batch build(const std::vector<int64_t>& order, int64_t b, int64_t epoch, TransformScratch& scratch) const;

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  void worker_loop();
  // Hands out the finished batch next_deliver_ (which must be ready) and releases `lk`.
  std::optional<Batch> take_ready(std::unique_lock<std::mutex>& lk);
  bool work_available() const;

  DatasetPtr dataset_;
  LoaderOptions options_;
  TransformPipeline pipeline_;
  int64_t num_batches_ = 0;
  int64_t shard_own_ = 0;  // samples of the shard that are not padding

  std::mutex mu_;
  std::condition_variable work_cv_;   // workers wait here for claimable batches
  std::condition_variable ready_cv_;  // next() waits here for its batch
  bool shutting_down_ = false;
  bool active_ = false;      // an epoch is being served
  uint64_t generation_ = 0;  // bumped by reset() and stop()
  int64_t epoch_ = 0;
  std::shared_ptr<const std::vector<int64_t>> order_;
  int64_t next_claim_ = 0;    // next batch a worker will start
  int64_t next_deliver_ = 0;  // next batch next() returns
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> workers_;
  TransformScratch inline_scratch_;  // for num_workers == 0
};

}  // namespace data
}  // namespace noisynn
