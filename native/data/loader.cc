// Epoch orders and the worker pool: batches claimed in order, built off-lock, delivered in order.
#include "data/loader.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <numeric>

#include "common/shutdown.h"

namespace noisynn {
namespace data {

std::vector<int64_t> epoch_order(const Dataset& dataset, Order order, uint64_t seed, int64_t epoch) {
  const int64_t n = dataset.size();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  switch (order) {
    case Order::Sequential: std::iota(idx.begin(), idx.end(), int64_t(0)); break;
    case Order::Shuffle: {
      std::iota(idx.begin(), idx.end(), int64_t(0));
      Rng rng = Rng::ForShuffle(seed, static_cast<uint64_t>(epoch));
      for (int64_t i = n - 1; i > 0; --i) std::swap(idx[i], idx[rng.below(uint64_t(i) + 1)]);
      break;
    }
    case Order::ClassSorted: {
      // A counting sort by label: stable, so each class keeps dataset order.
      std::vector<int64_t> start(static_cast<size_t>(dataset.num_classes()) + 1, 0);
      for (int64_t i = 0; i < n; ++i) ++start[dataset.label(i) + 1];
      std::partial_sum(start.begin(), start.end(), start.begin());
      for (int64_t i = 0; i < n; ++i) idx[start[dataset.label(i)]++] = i;
      break;
    }
  }
  return idx;
}

std::vector<int64_t> shard_of(const std::vector<int64_t>& order, int64_t rank, int64_t world, bool drop_last,
                              int64_t* own) {
  TORCH_CHECK_VALUE(world >= 1 && rank >= 0 && rank < world, "shard rank ", rank, " out of range for ", world,
                    " shards");
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t per_shard = drop_last ? n / world : (n + world - 1) / world;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(per_shard));
  int64_t mine = 0;
  for (int64_t i = 0; i < per_shard; ++i) {
    const int64_t position = i * world + rank;  // in the order padded by wrapping around
    if (position < n) ++mine;
    if (n > 0) out.push_back(order[static_cast<size_t>(position % n)]);
  }
  if (own != nullptr) *own = mine;
  return out;
}

BatchLoader::BatchLoader(DatasetPtr dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  TORCH_CHECK_VALUE(dataset_ != nullptr, "BatchLoader needs a dataset");
  TORCH_CHECK_VALUE(options_.batch_size >= 1, "batch size must be positive, got ", options_.batch_size);
  TORCH_CHECK_VALUE(options_.num_workers >= 0 && options_.num_workers <= 256, "number of workers must be in [0, 256]");
  TORCH_CHECK_VALUE(options_.prefetch >= 1, "prefetch must be positive, got ", options_.prefetch);
  pipeline_ = TransformPipeline(options_.transforms, dataset_->channels(), dataset_->height(), dataset_->width());
  TORCH_CHECK_VALUE(options_.shard_world >= 1 && options_.shard_rank >= 0 && options_.shard_rank < options_.shard_world,
                    "shard rank ", options_.shard_rank, " out of range for ", options_.shard_world, " shards");
  // The shard's length and how much of it is padding depend on the dataset's size only.
  const std::vector<int64_t> positions = [&] {
    std::vector<int64_t> all(static_cast<size_t>(dataset_->size()));
    std::iota(all.begin(), all.end(), int64_t(0));
    return all;
  }();
  const int64_t n = static_cast<int64_t>(
      shard_of(positions, options_.shard_rank, options_.shard_world, options_.drop_last, &shard_own_).size());
  num_batches_ = options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    shutting_down_ = true;
    ++generation_;
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

uint64_t BatchLoader::reset(int64_t epoch) {
  std::vector<int64_t> full = epoch_order(*dataset_, options_.order, options_.seed, epoch);
  if (options_.shard_world > 1) {
    full = shard_of(full, options_.shard_rank, options_.shard_world, options_.drop_last);
  }
  auto order = std::make_shared<const std::vector<int64_t>>(std::move(full));
  std::map<int64_t, Slot> stale;  // freed after the lock is released
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (workers_.empty()) {
      for (int64_t i = 0; i < options_.num_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
    }
    generation = ++generation_;
    active_ = true;
    epoch_ = epoch;
    order_ = std::move(order);
    next_claim_ = next_deliver_ = 0;
    stale.swap(ready_);
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
  return generation;
}

void BatchLoader::stop(uint64_t generation) {
  std::map<int64_t, Slot> stale;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (generation != generation_) return;
    ++generation_;
    active_ = false;
    stale.swap(ready_);
  }
  ready_cv_.notify_all();
}

void BatchLoader::stop() {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lk(mu_);
    generation = generation_;
  }
  stop(generation);
}

std::optional<Batch> BatchLoader::next() {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lk(mu_);
    generation = generation_;
  }
  return next(generation);
}

std::optional<Batch> BatchLoader::next(uint64_t generation) {
  std::unique_lock<std::mutex> lk(mu_);
  auto superseded = [&] { return generation != generation_ || shutting_down_; };
  if (superseded()) throw SupersededError("this pass over the DataLoader was superseded by a newer one (or stopped)");
  if (!active_ || next_deliver_ >= num_batches_) return std::nullopt;

  if (options_.num_workers == 0) {
    // No pool: build on the caller's thread.
    const int64_t b = next_deliver_++;
    next_claim_ = next_deliver_;
    auto order = order_;
    const int64_t epoch = epoch_;
    lk.unlock();
    TransformScratch scratch;
    return build(*order, b, epoch, scratch);
  }

  ready_cv_.wait(lk, [&] { return superseded() || next_deliver_ >= num_batches_ || ready_.count(next_deliver_) > 0; });
  if (superseded()) throw SupersededError("this pass over the DataLoader was superseded by a newer one (or stopped)");
  if (next_deliver_ >= num_batches_) return std::nullopt;
  return take_ready(lk);
}

std::optional<Batch> BatchLoader::take_ready(std::unique_lock<std::mutex>& lk) {
  auto it = ready_.find(next_deliver_);
  Slot slot = std::move(it->second);
  ready_.erase(it);
  ++next_deliver_;
  lk.unlock();
  // One slot freed, one batch to claim: wake one worker. Waking them all makes the idle ones
  // preempt the consumer's thread for nothing on a machine with few cores.
  work_cv_.notify_one();
  if (slot.error) std::rethrow_exception(slot.error);
  return std::move(slot.batch);
}

bool BatchLoader::try_next(uint64_t generation, std::optional<Batch>* out) {
  std::unique_lock<std::mutex> lk(mu_);
  if (generation != generation_ || shutting_down_) {
    throw SupersededError("this pass over the DataLoader was superseded by a newer one (or stopped)");
  }
  if (!active_ || next_deliver_ >= num_batches_) {
    *out = std::nullopt;
    return true;
  }
  if (ready_.count(next_deliver_) == 0) return false;
  *out = take_ready(lk);
  return true;
}

bool BatchLoader::work_available() const {
  return active_ && next_claim_ < num_batches_ && next_claim_ - next_deliver_ < options_.prefetch;
}

void BatchLoader::worker_loop() {
  TransformScratch scratch;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [&] { return shutting_down_ || work_available(); });
    if (shutting_down_) return;
    const int64_t b = next_claim_++;
    const uint64_t generation = generation_;
    const int64_t epoch = epoch_;
    auto order = order_;
    lk.unlock();
    Slot slot;
    {
      // Not while the process exits: libtorch's static destructors may be running then.
      shutdown::Work unit;
      if (!unit) return;
      try {
        slot.batch = build(*order, b, epoch, scratch);
      } catch (...) {
        slot.error = std::current_exception();
      }
    }
    lk.lock();
    if (generation == generation_) {
      ready_.emplace(b, std::move(slot));
      ready_cv_.notify_all();
    } else {
      // Built for an abandoned run: drop it without holding the lock.
      lk.unlock();
      slot = Slot();
      lk.lock();
    }
  }
}

Batch BatchLoader::build(const std::vector<int64_t>& order, int64_t b, int64_t epoch, TransformScratch& scratch) const {
  const int64_t total = static_cast<int64_t>(order.size());
  const int64_t begin = b * options_.batch_size;
  TORCH_CHECK_INDEX(begin >= 0 && begin < total, "batch ", b, " is outside the epoch");
  const int64_t n = std::min(options_.batch_size, total - begin);
  const auto shape = pipeline_.output_shape();
  const int64_t per_sample = shape[0] * shape[1] * shape[2];
  const bool to_device = !options_.device.is_cpu();

  // Batches bound for a GPU are assembled in pinned memory so the copy can use DMA.
  at::TensorOptions host = at::TensorOptions().pinned_memory(to_device);
  Batch batch;
  batch.index = b;
  batch.epoch = epoch;
  batch.valid = std::max<int64_t>(0, std::min(n, shard_own_ - begin));
  batch.images = at::empty({n, shape[0], shape[1], shape[2]}, host.dtype(at::kFloat));
  batch.labels = at::empty({n}, host.dtype(at::kLong));
  batch.indices = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  float* out = batch.images.data_ptr<float>();
  int64_t* labels = batch.labels.data_ptr<int64_t>();
  int64_t* indices = batch.indices.data_ptr<int64_t>();
  const at::ScalarType src_type = dataset_->dtype();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t idx = order[begin + i];
    Rng rng = Rng::ForSample(options_.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(idx));
    pipeline_.apply(dataset_->sample_data(idx), src_type, rng, out + i * per_sample, scratch);
    labels[i] = dataset_->label(idx);
    indices[i] = idx;
  }
  if (to_device) {
    batch.images = batch.images.to(options_.device);
    batch.labels = batch.labels.to(options_.device);
  }
  return batch;
}

}  // namespace data
}  // namespace noisynn
