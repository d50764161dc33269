// Batch-axis noise over the global batch: the collectives of each kind, inside autograd Functions
// whose backward sends the gradient the way the forward mixed the samples.
#include "distributed/global_noise.h"

#include <torch/autograd.h>

#include <limits>
#include <utility>

namespace noisynn {
namespace dist {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A group inside an autograd context (saved_data holds IValues).
struct GroupHolder : torch::CustomClassHolder {
  explicit GroupHolder(std::shared_ptr<Group> g) : group(std::move(g)) {}
  std::shared_ptr<Group> group;
};

c10::IValue hold(const std::shared_ptr<Group>& group) {
  return c10::IValue::make_capsule(c10::make_intrusive<GroupHolder>(group));
}

Group& held(const c10::IValue& v) { return *c10::static_intrusive_pointer_cast<GroupHolder>(v.toCapsule())->group; }

// Half and bfloat16 accumulate in float, as the fused kernels do.
at::ScalarType acc_type(at::ScalarType t) { return t == at::kHalf || t == at::kBFloat16 ? at::kFloat : t; }

// optimal over the global batch: out_i = (x_i + S) / (K + 1), S the sum over every rank's samples
// and K their number (summed with S in the same all-reduce, so no host sync is needed).
at::Tensor optimal_map(const at::Tensor& x, Group& g, const char* what) {
  const at::ScalarType acc = acc_type(x.scalar_type());
  const int64_t per_sample = x.numel() / x.size(0);
  at::Tensor packed = at::cat({x.sum(0, /*keepdim=*/false, acc).reshape({-1}),
                               at::full({1}, static_cast<double>(x.size(0)), x.options().dtype(acc))});
  g.all_reduce(packed, ReduceOp::Sum, what).wait();
  const at::Tensor sum = packed.narrow(0, 0, per_sample).view(x.sizes().slice(1));
  const at::Tensor count = packed.narrow(0, per_sample, 1);
  return ((x.to(acc) + sum) / (count + 1)).to(x.scalar_type());
}

// x's rows one place along the global batch: each sample's successor (the same local sample of
// rank r + 1; for the last rank, rank 0's next sample), or its predecessor. One send and one recv
// per rank, even ranks sending first (so that no backend waits on a pair in the wrong order).
at::Tensor neighbour_rows(const at::Tensor& x, Group& g, bool successor, const char* what) {
  const int64_t r = g.rank(), w = g.world_size();
  const int64_t to = successor ? (r + w - 1) % w : (r + 1) % w;
  const int64_t from = successor ? (r + 1) % w : (r + w - 1) % w;
  const int64_t tag = successor ? 11 : 12;
  at::Tensor mine = x.contiguous();
  at::Tensor theirs = at::empty_like(mine);
  Work sent, received;
  if (r % 2 == 0) {
    sent = g.send(mine, to, tag, what);
    received = g.recv(theirs, from, tag, what);
  } else {
    received = g.recv(theirs, from, tag, what);
    sent = g.send(mine, to, tag, what);
  }
  received.wait();
  sent.wait();
  if (successor && r == w - 1) return at::roll(theirs, {-1}, {0});
  if (!successor && r == 0) return at::roll(theirs, {1}, {0});
  return theirs;
}

// linear: out_i = x_i + a (x_n - x_i), n the successor (forward) or predecessor (its transpose).
at::Tensor linear_map(const at::Tensor& x, double a, Group& g, bool successor, const char* what) {
  const at::ScalarType acc = acc_type(x.scalar_type());
  const at::Tensor v = x.to(acc);
  const at::Tensor n = neighbour_rows(x, g, successor, what).to(acc);
  return (v + (n - v) * a).to(x.scalar_type());
}

class OptimalGlobal : public torch::autograd::Function<OptimalGlobal> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, c10::IValue group) {
    ctx->saved_data["group"] = group;
    return optimal_map(x, held(group), "all-reduce of the optimal noise's batch sum");
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // (I + 11^T) / (K + 1) is symmetric: the backward is the same map on the gradient.
    return {optimal_map(grads[0], held(ctx->saved_data["group"]), "all-reduce of the optimal noise's gradient sum"),
            at::Tensor()};
  }
};

class LinearGlobal : public torch::autograd::Function<LinearGlobal> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double a, c10::IValue group) {
    ctx->saved_data["a"] = a;
    ctx->saved_data["group"] = group;
    return linear_map(x, a, held(group), /*successor=*/true, "exchange of the linear noise's neighbour rows");
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {linear_map(grads[0], ctx->saved_data["a"].toDouble(), held(ctx->saved_data["group"]),
                       /*successor=*/false, "exchange of the linear noise's neighbour gradients"),
            at::Tensor(), at::Tensor()};
  }
};

// `value` forward, the identity backward to x: the noise term carries no gradient (detach).
class StraightThrough : public torch::autograd::Function<StraightThrough> {
 public:
  static at::Tensor forward(AutogradContext*, const at::Tensor& x, const at::Tensor& value) { return value; }
  static variable_list backward(AutogradContext*, variable_list grads) { return {grads[0], at::Tensor()}; }
};

}  // namespace

at::Tensor global_extremes(const at::Tensor& x, Group& group) {
  at::NoGradGuard no_grad;
  const double inf = std::numeric_limits<double>::infinity();
  const at::Tensor hi = x.max().to(at::kDouble), lo = x.min().to(at::kDouble);
  const at::Tensor nan = at::logical_or(at::isnan(hi), at::isnan(lo));
  const at::Tensor none = at::full({}, -inf, hi.options());
  // One MAX all-reduce: the max, minus the min, and whether any rank saw NaN.
  at::Tensor packed = at::stack({at::where(nan, none, hi), at::where(nan, none, -lo), nan.to(at::kDouble)});
  group.all_reduce(packed, ReduceOp::Max, "all-reduce of the saltPepper extremes").wait();
  const at::Tensor any_nan = packed[2] > 0;
  const at::Tensor qnan = at::full({}, std::numeric_limits<double>::quiet_NaN(), packed.options());
  return at::stack({at::where(any_nan, qnan, packed[0]), at::where(any_nan, qnan, -packed[1])}).to(x.scalar_type());
}

at::Tensor inject_noise_global(const at::Tensor& x, const NoiseParams& params, const std::shared_ptr<Group>& group) {
  TORCH_CHECK(group != nullptr, "inject_noise_global: no process group");
  TORCH_CHECK(x.dim() >= 1 && x.size(0) > 0, "inject_noise_global: expected a non-empty batch");
  NoiseParams p = params;
  p.batch_rank = group->rank();
  p.batch_world = group->world_size();
  const bool batch_axis = p.axis == 0;
  switch (p.kind) {
    case NoiseKind::SaltPepper: p.extremes = global_extremes(x.detach(), *group); return inject_noise(x, p);
    case NoiseKind::Optimal:
    case NoiseKind::Linear:
      if (batch_axis) break;
      return inject_noise(x, p);  // mixing within a sample: nothing crosses ranks
    default: return inject_noise(x, p);
  }
  if (p.detach) {
    at::Tensor noised;
    {
      at::NoGradGuard no_grad;
      noised = p.kind == NoiseKind::Optimal ? optimal_map(x, *group, "all-reduce of the optimal noise's batch sum")
                                            : linear_map(x, p.strength, *group, /*successor=*/true,
                                                         "exchange of the linear noise's neighbour rows");
    }
    return StraightThrough::apply(x, noised);
  }
  if (p.kind == NoiseKind::Optimal) return OptimalGlobal::apply(x, hold(group));
  return LinearGlobal::apply(x, p.strength, hold(group));
}

}  // namespace dist
}  // namespace noisynn
