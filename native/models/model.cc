// The model base: the noise site (and its timing helper), input checks, parameter bookkeeping, init helpers.
#include "models/model.h"

#include <chrono>
#include <cmath>
#include <sstream>

#include "distributed/global_noise.h"

namespace noisynn {
namespace models {

NoiseWhen parse_noise_when(const std::string& s) {
  if (s == "train") return NoiseWhen::Train;
  if (s == "eval") return NoiseWhen::Eval;
  if (s == "always") return NoiseWhen::Always;
  TORCH_CHECK_VALUE(false, "Expected one of 'train', 'eval', 'always' for noise.when but received '", s, "'");
}

NoiseAxis parse_noise_axis(const std::string& s) {
  if (s == "batch") return NoiseAxis::Batch;
  if (s == "spatial") return NoiseAxis::Spatial;
  TORCH_CHECK_VALUE(false, "Expected one of 'batch', 'spatial' for noise.axis but received '", s, "'");
}

NoiseSiteKind parse_noise_site(const std::string& s) {
  if (s == "attention") return NoiseSiteKind::Attention;
  if (s == "block") return NoiseSiteKind::Block;
  TORCH_CHECK_VALUE(false, "Expected one of 'attention', 'block' for noise.site but received '", s, "'");
}

NoiseScope parse_noise_scope(const std::string& s) {
  if (s == "local") return NoiseScope::Local;
  if (s == "global") return NoiseScope::Global;
  TORCH_CHECK_VALUE(false, "Expected one of 'local', 'global' for noise.scope but received '", s, "'");
}

const char* noise_site_name(NoiseSiteKind s) { return s == NoiseSiteKind::Attention ? "attention" : "block"; }

// ---- the noise site ----

bool NoiseSite::active(bool training) const {
  if (config_.params.kind == NoiseKind::None) return false;
  switch (config_.when) {
    case NoiseWhen::Train: return training;
    case NoiseWhen::Eval: return !training;
    default: return true;
  }
}

at::Tensor NoiseSite::inject(const at::Tensor& x, int64_t axis) {
  NoiseParams p = config_.params;
  p.axis = axis;
  const bool global = config_.scope == NoiseScope::Global && group_ != nullptr && group_->world_size() > 1;
  // Each element index is added to the Philox counter, so reserving numel() per call keeps
  // the streams of successive forwards disjoint. Over a global batch every rank reserves the
  // whole batch's span (all ranks' offsets stay equal), as one process holding it would.
  const uint64_t span = static_cast<uint64_t>(x.numel()) * static_cast<uint64_t>(global ? group_->world_size() : 1);
  p.offset = offset_.fetch_add(span);
  return global ? dist::inject_noise_global(x, p, group_) : inject_noise(x, p);
}

at::Tensor NoiseSite::apply_to_tokens(const at::Tensor& tokens, int64_t grid_h, int64_t grid_w) {
  TORCH_CHECK(tokens.dim() == 3, "noise site: expected tokens [B, 1 + N, C]");
  const int64_t B = tokens.size(0), T = tokens.size(1), C = tokens.size(2);
  TORCH_CHECK(T == 1 + grid_h * grid_w, "noise site: expected 1 + ", grid_h, "*", grid_w, " tokens but got ", T);
  // The class token is never mixed: noise the patch tokens and put the class token back.
  // split (not two narrows): its backward is one cat of the two gradients, where narrow's
  // backward would zero-fill and add two full-size tensors.
  std::vector<at::Tensor> parts = tokens.split_with_sizes({1, T - 1}, 1);
  const at::Tensor& cls = parts[0];
  const at::Tensor& patches = parts[1];
  at::Tensor noised;
  if (config_.axis == NoiseAxis::Batch) {
    noised = inject(patches.contiguous(), 0);
  } else {
    at::Tensor grid = patches.reshape({B, grid_h, grid_w, C});
    noised = inject(grid.contiguous(), 1).reshape({B, grid_h * grid_w, C});
  }
  return at::cat({cls, noised}, 1);
}

at::Tensor NoiseSite::apply_to_feature_map(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "noise site: expected a feature map [B, C, H, W]");
  return inject(x.contiguous(), config_.axis == NoiseAxis::Batch ? 0 : 2);
}

std::vector<double> time_noise_site(NoiseSite& site, const at::Tensor& tokens, int64_t grid_h, int64_t grid_w,
                                    int64_t iterations) {
  TORCH_CHECK_VALUE(iterations >= 1, "Expected positive integer for iterations but received ", iterations);
  at::Tensor input = tokens.detach().clone().requires_grad_(true);
  const at::Tensor grad = at::ones_like(input);
  std::vector<double> seconds;
  seconds.reserve(static_cast<size_t>(iterations));
  for (int64_t i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    site.apply_to_tokens(input, grid_h, grid_w).backward(grad);
    input.mutable_grad().reset();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return seconds;
}

// ---- the model base ----

void Model::set_noise(const NoiseSiteConfig& config) {
  TORCH_CHECK_VALUE(config.params.strength >= 0 && std::isfinite(config.params.strength),
                    "Expected non-negative finite number for noise.strength but received ", config.params.strength);
  validate_noise(config);
  noise_.configure(config);
}

int64_t Model::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

std::vector<std::pair<std::string, at::Tensor>> Model::state_dict() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : named_parameters(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  for (const auto& item : named_buffers(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

at::Device Model::device() const {
  auto params = parameters();
  return params.empty() ? at::Device(at::kCPU) : params.front().device();
}

int64_t Model::state_bytes() const {
  int64_t bytes = 0;
  for (const auto& kv : state_dict()) bytes += kv.second.numel() * kv.second.element_size();
  return bytes;
}

at::Tensor Model::check_input(const at::Tensor& x) const {
  TORCH_CHECK_VALUE(x.defined(), "Expected a tensor for x but received an undefined tensor");
  TORCH_CHECK_VALUE(x.dim() == 4, "Expected x of shape [batch, ", in_channels(), ", height, width] but received ",
                    x.dim(), " dimensions ", x.sizes());
  TORCH_CHECK_VALUE(x.size(0) > 0, "Expected a non-empty batch for x but received shape ", x.sizes());
  TORCH_CHECK_VALUE(x.size(1) == in_channels(), "Expected ", in_channels(), " channels in x (shape [batch, ",
                    in_channels(), ", height, width]) but received shape ", x.sizes());
  if (image_size() > 0) {
    TORCH_CHECK_VALUE(x.size(2) == image_size() && x.size(3) == image_size(), "Expected ", image_size(), "x",
                      image_size(), " images for x but received shape ", x.sizes());
  } else {
    TORCH_CHECK_VALUE(x.size(2) > 0 && x.size(3) > 0, "Expected a non-empty image for x but received shape ",
                      x.sizes());
  }
  TORCH_CHECK_TYPE(at::isFloatingType(x.scalar_type()), "Expected a floating-point tensor for x but received dtype ",
                   x.scalar_type());
  at::Device dev = device();
  TORCH_CHECK_VALUE(x.device() == dev, "Expected x on the model's device ", dev.str(), " but received a tensor on ",
                    x.device().str(), "; move one of them with .to(device)");
  return x.scalar_type() == at::kFloat ? x : x.to(at::kFloat);
}

// ---- initialisation ----

void init_trunc_normal(const at::Tensor& t, double std, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  // timm truncates at +-2 absolute, i.e. +-100 standard deviations for std 0.02: in practice a
  // plain normal, clamped for the astronomically rare tail.
  t.normal_(0.0, std, gen).clamp_(-2.0, 2.0);
}

void init_uniform(const at::Tensor& t, double bound, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  t.uniform_(-bound, bound, gen);
}

namespace {
std::pair<int64_t, int64_t> fans(const at::Tensor& w) {
  TORCH_CHECK(w.dim() >= 2, "fan computation needs a weight with at least 2 dimensions");
  int64_t receptive = 1;
  for (int64_t i = 2; i < w.dim(); ++i) receptive *= w.size(i);
  return {w.size(1) * receptive, w.size(0) * receptive};
}
}  // namespace

void init_kaiming_normal_fan_out(const at::Tensor& t, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  const double gain = std::sqrt(2.0);  // relu
  t.normal_(0.0, gain / std::sqrt(static_cast<double>(fans(t).second)), gen);
}

void init_torch_default(const at::Tensor& weight, const at::Tensor& bias, at::Generator& gen) {
  // kaiming_uniform(a = sqrt(5)): gain sqrt(2 / 6), bound sqrt(3) * gain / sqrt(fan_in) = 1 / sqrt(fan_in).
  const double bound = 1.0 / std::sqrt(static_cast<double>(fans(weight).first));
  init_uniform(weight, bound, gen);
  if (bias.defined()) init_uniform(bias, bound, gen);
}

}  // namespace models
}  // namespace noisynn
