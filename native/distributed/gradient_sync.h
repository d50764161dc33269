// Data-parallel gradient averaging, overlapped with backward: the parameters' gradients go into
// buckets (about 25 MB, in reverse parameter order, the order backward produces them), and each
// bucket's all-reduce starts as soon as backward has filled it, while backward goes on.
//
//   sync.begin(totals);   // arms the hooks; all-reduces `totals` (e.g. loss and hits) meanwhile
//   loss.backward();      // hooks copy each gradient into its bucket and launch full buckets
//   sync.finish();        // the rest, then every gradient = the mean over the ranks
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "distributed/group.h"

namespace noisynn {
namespace dist {

class GradientSync {
 public:
  // `params`: the trainable parameters in registration order, all on one device with one dtype.
  // Buckets are cut at `bucket_bytes`, the first (the last layers) at `first_bucket_bytes`, so that
  // communication starts early in backward (as in PyTorch's DDP).
  GradientSync(std::shared_ptr<Group> group, std::vector<at::Tensor> params, int64_t bucket_bytes = 25 << 20,
               int64_t first_bucket_bytes = 1 << 20);
  ~GradientSync();  // removes the hooks
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Arms the hooks for one backward pass and starts the all-reduce (sum) of `totals`.
  void begin(const std::vector<double>& totals);
  // After backward: reduces any bucket backward left incomplete (a parameter without a gradient
  // counts as zero), waits for every bucket, and sets each gradient to the mean over the ranks.
  // Returns `totals` summed over the ranks.
  std::vector<double> finish();

  // Bytes of each bucket, in launch order (for the documentation of the cost).
  std::vector<int64_t> bucket_bytes() const;

 private:
  struct Bucket {
    std::vector<size_t> params;   // indices into params_
    std::vector<int64_t> offset;  // element offset of each in flat
    at::Tensor flat;
    size_t pending = 0;  // parameters whose gradient has not arrived in this backward
    bool launched = false;
    Work work;
  };
  void on_gradient(size_t param, const at::Tensor& grad);
  void launch_ready_locked();

  std::shared_ptr<Group> group_;
  std::vector<at::Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<size_t> bucket_of_;  // param -> bucket
  std::vector<size_t> slot_of_;    // param -> position in its bucket
  std::vector<bool> arrived_;
  std::vector<unsigned> hooks_;
  std::mutex mu_;
  bool armed_ = false;
  size_t next_launch_ = 0;
  at::Tensor totals_;
  Work totals_work_;
};

}  // namespace dist
}  // namespace noisynn
