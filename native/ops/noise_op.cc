// The noise op's one schema (TORCH_LIBRARY), its autograd Function, the public C++ entry
// points, and the literal reference formula the tests and benchmark compare against.
//
// Backward, exactly, for out = (I + Q) x along the mixing axis:
//   linear   Q = a (S - I):  dx_i = g_i + a (g_{i-1} - g_i)     (the transpose of I + Q)
//   optimal  I + Q = (I + 11^T) / (k + 1), symmetric:  dx_i = (g_i + sum_j g_j) / (k + 1)
//   gaussian additive noise:  dx = g
//   saltPepper replaced elements take a constant (the tensor's max/min, detached, as in the
//            official code): dx = g where kept, 0 where replaced; the random mask is regenerated
//            from (seed, offset), not stored
//   detach   the noise term (out - x) carries no gradient:  dx = g, for every kind
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/philox.h"
#include "ops/noise.h"
#include "ops/noise_impl.h"

namespace noisynn {

NoiseKind parse_noise_kind(const std::string& name) {
  if (name == "none") return NoiseKind::None;
  if (name == "linear") return NoiseKind::Linear;
  if (name == "optimal") return NoiseKind::Optimal;
  if (name == "gaussian") return NoiseKind::Gaussian;
  if (name == "saltPepper") return NoiseKind::SaltPepper;
  TORCH_CHECK_VALUE(false,
                    "Expected one of 'none', 'linear', 'optimal', 'gaussian', 'saltPepper' for kind but received '",
                    name, "'");
}

const char* noise_kind_name(NoiseKind kind) {
  switch (kind) {
    case NoiseKind::None: return "none";
    case NoiseKind::Linear: return "linear";
    case NoiseKind::Optimal: return "optimal";
    case NoiseKind::Gaussian: return "gaussian";
    case NoiseKind::SaltPepper: return "saltPepper";
  }
  return "?";
}

namespace impl {

Geometry check_and_geometry(const at::Tensor& x, int64_t axis, const char* what) {
  TORCH_CHECK_VALUE(x.dim() >= 1, what, ": expected a tensor with at least one dimension");
  TORCH_CHECK_VALUE(x.numel() > 0, what, ": expected a non-empty tensor");
  TORCH_CHECK_VALUE(at::isFloatingType(x.scalar_type()), what, ": expected a floating-point tensor but got ",
                    x.scalar_type());
  TORCH_CHECK_INDEX(axis >= 0 && axis < x.dim(), what, ": axis ", axis, " out of range for a tensor of ", x.dim(),
                    " dimensions");
  Geometry g;
  for (int64_t d = 0; d < axis; ++d) g.outer *= x.size(d);
  g.k = x.size(axis);
  for (int64_t d = axis + 1; d < x.dim(); ++d) g.inner *= x.size(d);
  return g;
}

int64_t check_interleave(const at::Tensor& x, int64_t batch_rank, int64_t batch_world,
                         const c10::optional<at::Tensor>& extremes, const char* what) {
  TORCH_CHECK_VALUE(batch_world >= 1 && batch_rank >= 0 && batch_rank < batch_world, what, ": batch rank ", batch_rank,
                    " out of range for a batch interleave of ", batch_world);
  if (extremes.has_value() && extremes->defined()) {
    TORCH_CHECK_VALUE(
        extremes->numel() == 2 && extremes->scalar_type() == x.scalar_type() && extremes->device() == x.device(), what,
        ": extremes must be [2] {salt, pepper} of x's dtype ", x.scalar_type(), " on ", x.device().str(), " but are ",
        extremes->sizes(), " ", extremes->scalar_type(), " on ", extremes->device().str());
  }
  return x.dim() == 0 || x.size(0) == 0 ? 1 : std::max<int64_t>(1, x.numel() / x.size(0));
}

void check_kind(int64_t kind, const char* what) {
  TORCH_CHECK_VALUE(
      kind >= static_cast<int64_t>(NoiseKind::None) && kind <= static_cast<int64_t>(NoiseKind::SaltPepper), what,
      ": unknown noise kind ", kind, " (expected 0 none, 1 linear, 2 optimal, 3 gaussian or 4 saltPepper)");
}

}  // namespace impl

namespace {

at::Tensor dispatch_forward(const at::Tensor& x, int64_t kind, int64_t axis, double strength, double mean, double std,
                            int64_t seed, int64_t offset, bool detach, int64_t batch_rank, int64_t batch_world,
                            const c10::optional<at::Tensor>& extremes) {
  static auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("noisynn::inject_noise", "").typed<decltype(dispatch_forward)>();
  return op.call(x, kind, axis, strength, mean, std, seed, offset, detach, batch_rank, batch_world, extremes);
}

at::Tensor dispatch_backward(const at::Tensor& grad, int64_t kind, int64_t axis, double strength, int64_t seed,
                             int64_t offset, bool detach, int64_t batch_rank, int64_t batch_world) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("noisynn::inject_noise_backward", "")
                       .typed<decltype(dispatch_backward)>();
  return op.call(grad, kind, axis, strength, seed, offset, detach, batch_rank, batch_world);
}

class NoiseFunction : public torch::autograd::Function<NoiseFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t kind, int64_t axis,
                            double strength, double mean, double std, int64_t seed, int64_t offset, bool detach,
                            int64_t batch_rank, int64_t batch_world, const c10::optional<at::Tensor>& extremes) {
    ctx->saved_data["kind"] = kind;
    ctx->saved_data["axis"] = axis;
    ctx->saved_data["strength"] = strength;
    ctx->saved_data["seed"] = seed;
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["detach"] = detach;
    ctx->saved_data["batch_rank"] = batch_rank;
    ctx->saved_data["batch_world"] = batch_world;
    at::AutoDispatchBelowADInplaceOrView guard;
    return dispatch_forward(x, kind, axis, strength, mean, std, seed, offset, detach, batch_rank, batch_world,
                            extremes);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const int64_t kind = ctx->saved_data["kind"].toInt();
    const bool detach = ctx->saved_data["detach"].toBool();
    at::Tensor gx;
    if (impl::backward_is_identity(kind, detach)) {
      gx = grads[0];  // the identity: hand the gradient on instead of copying it (as autograd's own Add does)
    } else {
      gx = dispatch_backward(grads[0], kind, ctx->saved_data["axis"].toInt(), ctx->saved_data["strength"].toDouble(),
                             ctx->saved_data["seed"].toInt(), ctx->saved_data["offset"].toInt(), detach,
                             ctx->saved_data["batch_rank"].toInt(), ctx->saved_data["batch_world"].toInt());
    }
    torch::autograd::variable_list out(12);  // x's gradient; none for the other arguments
    out[0] = gx;
    return out;
  }
};

at::Tensor forward_autograd(const at::Tensor& x, int64_t kind, int64_t axis, double strength, double mean, double std,
                            int64_t seed, int64_t offset, bool detach, int64_t batch_rank, int64_t batch_world,
                            const c10::optional<at::Tensor>& extremes) {
  return NoiseFunction::apply(x, kind, axis, strength, mean, std, seed, offset, detach, batch_rank, batch_world,
                              extremes);
}

}  // namespace

TORCH_LIBRARY(noisynn, m) {
  m.def(
      "inject_noise(Tensor x, int kind, int axis, float strength, float mean, float std, int seed, int offset, bool "
      "detach, int batch_rank=0, int batch_world=1, Tensor? extremes=None) -> Tensor");
  m.def(
      "inject_noise_backward(Tensor grad, int kind, int axis, float strength, int seed, int offset, bool detach, int "
      "batch_rank=0, int batch_world=1) -> Tensor");
}

TORCH_LIBRARY_IMPL(noisynn, CPU, m) {
  m.impl("inject_noise", &impl::forward_cpu);
  m.impl("inject_noise_backward", &impl::backward_cpu);
}

TORCH_LIBRARY_IMPL(noisynn, Autograd, m) { m.impl("inject_noise", &forward_autograd); }

at::Tensor inject_noise(const at::Tensor& x, const NoiseParams& p) {
  const int64_t axis = p.axis < 0 ? p.axis + x.dim() : p.axis;
  const c10::optional<at::Tensor> extremes =
      p.extremes.defined() ? c10::optional<at::Tensor>(p.extremes) : c10::optional<at::Tensor>();
  return dispatch_forward(x, static_cast<int64_t>(p.kind), axis, p.strength, p.mean, p.std,
                          static_cast<int64_t>(p.seed), static_cast<int64_t>(p.offset), p.detach, p.batch_rank,
                          p.batch_world, extremes);
}

namespace {

// The stream materialised for a batch `world` times as large, rows j * world + rank kept: the
// literal meaning of the interleave, which the kernels compute without the other rows.
at::Tensor philox_rows(at::IntArrayRef shape, uint64_t seed, uint64_t offset, at::ScalarType dtype, int64_t rank,
                       int64_t world, bool normal) {
  TORCH_CHECK_VALUE(world >= 1 && rank >= 0 && rank < world, "philox: batch rank ", rank,
                    " out of range for a batch interleave of ", world);
  std::vector<int64_t> full(shape.begin(), shape.end());
  if (world > 1) {
    TORCH_CHECK_VALUE(!full.empty(), "philox: a batch interleave needs a batch dimension");
    full[0] *= world;
  }
  at::Tensor out = at::empty(full, at::TensorOptions().dtype(at::kFloat));
  impl::philox_fill_cpu(out, normal, seed, offset);
  if (world > 1) out = out.slice(0, rank, c10::nullopt, world).contiguous();
  return out.to(dtype);
}

}  // namespace

at::Tensor philox_normal(at::IntArrayRef shape, uint64_t seed, uint64_t offset, at::ScalarType dtype,
                         int64_t batch_rank, int64_t batch_world) {
  return philox_rows(shape, seed, offset, dtype, batch_rank, batch_world, /*normal=*/true);
}

at::Tensor philox_uniform(at::IntArrayRef shape, uint64_t seed, uint64_t offset, at::ScalarType dtype,
                          int64_t batch_rank, int64_t batch_world) {
  return philox_rows(shape, seed, offset, dtype, batch_rank, batch_world, /*normal=*/false);
}

at::Tensor inject_noise_reference(const at::Tensor& x, const NoiseParams& p) {
  const int64_t axis = p.axis < 0 ? p.axis + x.dim() : p.axis;
  impl::check_and_geometry(x, axis, "inject_noise_reference");
  const int64_t k = x.size(axis);
  const auto opts = x.options().requires_grad(false);
  at::Tensor out;
  switch (p.kind) {
    case NoiseKind::None: return x * 1;
    case NoiseKind::Linear:
    case NoiseKind::Optimal: {
      // The quality matrix Q, built literally, applied along the axis: out = x + Q x.
      at::Tensor eye = at::eye(k, opts);
      at::Tensor q;
      if (p.kind == NoiseKind::Linear) {
        at::Tensor shift = at::roll(eye, /*shifts=*/1, /*dims=*/1);  // S[i][(i+1) mod k] = 1
        q = p.strength * (shift - eye);
      } else {
        q = -static_cast<double>(k) / (k + 1) * eye + at::ones({k, k}, opts) / static_cast<double>(k + 1);
      }
      at::Tensor moved = x.movedim(axis, -1);  // [..., k]
      at::Tensor qx = at::matmul(moved, q.t()).movedim(-1, axis);
      out = x + qx;
      break;
    }
    case NoiseKind::Gaussian: {
      at::Tensor z =
          philox_normal(x.sizes(), p.seed, p.offset, x.scalar_type(), p.batch_rank, p.batch_world).to(x.device());
      out = x + p.strength * (p.mean + p.std * z);
      break;
    }
    case NoiseKind::SaltPepper: {
      // The official rule (ViT.py, CNNs.py): one salt (the max) and one pepper (the min) of the
      // whole tensor (or the values given: the global batch's), detached; the mixing axis plays no part.
      at::Tensor u =
          philox_uniform(x.sizes(), p.seed, p.offset, at::kFloat, p.batch_rank, p.batch_world).to(x.device());
      at::Tensor hi = (p.extremes.defined() ? p.extremes[0] : x.max()).detach().expand_as(x);
      at::Tensor lo = (p.extremes.defined() ? p.extremes[1] : x.min()).detach().expand_as(x);
      out = at::where(u < p.strength * 0.5, hi, at::where(u < p.strength, lo, x));
      break;
    }
  }
  if (p.detach) out = x + (out - x).detach();
  return out;
}

#ifndef NOISYNN_WITH_CUDA
bool built_with_cuda() { return false; }
std::vector<std::string> cuda_device_names() { return {}; }
#endif

}  // namespace noisynn
