// GradientSync: buckets, the gradient hooks that fill them, and the in-order launches.
#include "distributed/gradient_sync.h"

#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#include <utility>

namespace noisynn {
namespace dist {

GradientSync::GradientSync(std::shared_ptr<Group> group, std::vector<at::Tensor> params, int64_t bucket_bytes,
                           int64_t first_bucket_bytes)
    : group_(std::move(group)), params_(std::move(params)) {
  TORCH_CHECK(group_ != nullptr, "GradientSync: no process group");
  TORCH_CHECK(!params_.empty(), "GradientSync: no parameters to synchronise");
  const at::TensorOptions opts = params_.front().options().requires_grad(false);
  for (const at::Tensor& p : params_) {
    TORCH_CHECK(p.device() == params_.front().device() && p.scalar_type() == params_.front().scalar_type(),
                "data-parallel training needs every parameter on one device with one dtype");
  }
  bucket_of_.resize(params_.size());
  slot_of_.resize(params_.size());
  arrived_.assign(params_.size(), false);
  // Reverse registration order: the head's and the last blocks' gradients come first in backward.
  int64_t cap = first_bucket_bytes, bytes = 0, elements = 0;
  Bucket current;
  auto close = [&] {
    if (current.params.empty()) return;
    current.flat = at::zeros({elements}, opts);
    buckets_.push_back(std::move(current));
    current = Bucket();
    bytes = elements = 0;
    cap = bucket_bytes;
  };
  for (size_t k = params_.size(); k-- > 0;) {
    const at::Tensor& p = params_[k];
    bucket_of_[k] = buckets_.size();
    slot_of_[k] = current.params.size();
    current.params.push_back(k);
    current.offset.push_back(elements);
    elements += p.numel();
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
    if (bytes >= cap) close();
  }
  close();
  for (size_t k = 0; k < params_.size(); ++k) {
    hooks_.push_back(params_[k].register_hook([this, k](const at::Tensor& grad) { on_gradient(k, grad); }));
  }
}

GradientSync::~GradientSync() {
  for (size_t k = 0; k < hooks_.size(); ++k) params_[k].remove_hook(hooks_[k]);
}

std::vector<int64_t> GradientSync::bucket_bytes() const {
  std::vector<int64_t> out;
  for (const Bucket& b : buckets_) out.push_back(b.flat.numel() * static_cast<int64_t>(b.flat.element_size()));
  return out;
}

void GradientSync::begin(const std::vector<double>& totals) {
  std::lock_guard<std::mutex> lk(mu_);
  for (Bucket& b : buckets_) {
    b.pending = b.params.size();
    b.launched = false;
    b.work = Work();
  }
  arrived_.assign(params_.size(), false);
  next_launch_ = 0;
  armed_ = true;
  totals_ = at::tensor(totals, at::TensorOptions().dtype(at::kDouble)).to(params_.front().device());
  totals_work_ = group_->all_reduce(totals_, ReduceOp::Sum, "all-reduce of the step's loss and accuracy");
}

void GradientSync::on_gradient(size_t k, const at::Tensor& grad) {
  std::lock_guard<std::mutex> lk(mu_);
  if (!armed_ || arrived_[k]) return;  // not a synchronised backward (or a second use of the leaf)
  Bucket& b = buckets_[bucket_of_[k]];
  const at::Tensor& p = params_[k];
  b.flat.narrow(0, b.offset[slot_of_[k]], p.numel()).view(p.sizes()).copy_(grad);
  arrived_[k] = true;
  if (--b.pending == 0) launch_ready_locked();
}

// Buckets start strictly in order: every rank must issue the same collectives in the same order,
// whatever order its backward happens to fill them in.
void GradientSync::launch_ready_locked() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    Bucket& b = buckets_[next_launch_++];
    b.work = group_->all_reduce(b.flat, ReduceOp::Sum, "all-reduce of a gradient bucket");
    b.launched = true;
  }
}

std::vector<double> GradientSync::finish() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    TORCH_CHECK(armed_, "GradientSync::finish without begin");
    armed_ = false;
    for (Bucket& b : buckets_) {
      if (b.launched) continue;
      for (size_t s = 0; s < b.params.size(); ++s) {
        const size_t k = b.params[s];
        if (arrived_[k]) continue;
        b.flat.narrow(0, b.offset[s], params_[k].numel()).zero_();
        arrived_[k] = true;
      }
      b.pending = 0;
    }
    launch_ready_locked();
  }
  totals_work_.wait();
  const double inv = 1.0 / static_cast<double>(group_->world_size());
  for (Bucket& b : buckets_) {
    b.work.wait();
    b.flat.mul_(inv);
  }
  at::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    for (size_t s = 0; s < b.params.size(); ++s) {
      at::Tensor& p = params_[b.params[s]];
      const at::Tensor mean = b.flat.narrow(0, b.offset[s], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(mean);
      } else {
        p.mutable_grad() = mean.clone();
      }
    }
  }
  const at::Tensor totals = totals_.to(at::kCPU).contiguous();
  return std::vector<double>(totals.data_ptr<double>(), totals.data_ptr<double>() + totals.numel());
}

}  // namespace dist
}  // namespace noisynn
