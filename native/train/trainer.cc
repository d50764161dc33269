// The training step, batch evaluation, optimizer-state checkpoints and the step timing helper.
#include "train/trainer.h"

#include "common/durable_file.h"
#include "train/optimizer_state.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace noisynn {
namespace train {

namespace F = torch::nn::functional;

OptimizerKind parse_optimizer_kind(const std::string& name) {
  if (name == "adamw") return OptimizerKind::AdamW;
  if (name == "sgd") return OptimizerKind::SGD;
  TORCH_CHECK_VALUE(false, "Expected one of 'adamw', 'sgd' for optimizer.name but received '", name, "'");
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// timm's rule: no weight decay on 1-d parameters (norm weights, biases) nor on the class
// token and position embedding.
bool decays(const std::string& name, const at::Tensor& p) {
  return p.dim() > 1 && !ends_with(name, "cls_token") && !ends_with(name, "pos_embed");
}

// SplitMix64: decorrelates (seed, step) into the per-step dropout seed.
uint64_t mix(uint64_t seed, uint64_t step) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (step + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// bf16 autocast for CUDA for the scope of one forward (autocast state is thread-local, and
// workers are pooled threads, so it is always switched off again).
class AutocastScope {
 public:
  explicit AutocastScope(bool enable) : on_(enable) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
  }
  ~AutocastScope() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool on_;
};

}  // namespace

Trainer::Trainer(std::shared_ptr<models::Model> model, TrainerOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  TORCH_CHECK(model_, "Trainer: no model");
  std::vector<at::Tensor> decay, no_decay;
  for (const auto& item : model_->named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    params_.push_back(item.value());
    param_names_.push_back(item.key());
    (decays(item.key(), item.value()) ? decay : no_decay).push_back(item.value());
  }
  const OptimizerOptions& o = options_.optimizer;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (o.kind == OptimizerKind::AdamW) {
    auto opts = [&](double wd) {
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(o.lr).betas(std::make_tuple(o.beta1, o.beta2)).eps(o.eps).weight_decay(wd));
    };
    if (!decay.empty()) groups.emplace_back(decay, opts(o.weight_decay));
    if (!no_decay.empty()) groups.emplace_back(no_decay, opts(0.0));
    optimizer_ = std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(o.lr));
  } else {
    auto opts = [&](double wd) {
      return std::make_unique<torch::optim::SGDOptions>(
          torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(wd));
    };
    if (!decay.empty()) groups.emplace_back(decay, opts(o.weight_decay));
    if (!no_decay.empty()) groups.emplace_back(no_decay, opts(0.0));
    optimizer_ = std::make_unique<torch::optim::SGD>(std::move(groups), torch::optim::SGDOptions(o.lr));
  }
}

void Trainer::apply_lr(double lr) {
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
}

at::Tensor Trainer::loss_of(const at::Tensor& logits, const at::Tensor& labels, double smoothing) const {
  return F::cross_entropy(logits.to(at::kFloat), labels, F::CrossEntropyFuncOptions().label_smoothing(smoothing));
}

Trainer::Pass Trainer::forward_backward_locked(const at::Tensor& images_in, const at::Tensor& labels_in) {
  const at::Device device = model_->device();
  TORCH_CHECK_VALUE(!options_.mixed_precision || device.is_cuda(),
                    "mixedPrecision (bf16 autocast) needs the model on a CUDA device, but it is on ", device.str());
  const at::Tensor images = images_in.to(device);
  Pass pass;
  pass.labels = labels_in.to(device, at::kLong);
  TORCH_CHECK_VALUE(pass.labels.dim() == 1 && pass.labels.size(0) == images.size(0), "labels must be [", images.size(0),
                    "] but are ", pass.labels.sizes());

  model_->train(true);
  {
    // Dropout and drop-path draw from the default generator of the model's device (the CPU one,
    // or the CUDA one of its GPU): key it by (seed, step) so a resumed run replays exactly what
    // an uninterrupted one would.
    auto gen = device.is_cpu() ? at::detail::getDefaultCPUGenerator() : at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> glock(gen.mutex());
    gen.set_current_seed(mix(options_.seed, static_cast<uint64_t>(step_)));
  }
  optimizer_->zero_grad();
  {
    AutocastScope autocast(options_.mixed_precision);
    pass.logits = model_->forward(images);
  }
  at::Tensor loss = loss_of(pass.logits, pass.labels, options_.label_smoothing);
  pass.loss = loss.item<double>();  // one host sync for the check and the report
  TORCH_CHECK(std::isfinite(pass.loss), "training diverged: the loss is ", pass.loss, " at step ", step_,
              " (lower the learning rate or set clipGradNorm)");
  loss.backward();
  return pass;
}

double Trainer::forward_backward(const at::Tensor& images, const at::Tensor& labels) {
  std::lock_guard<std::mutex> lock(model_->mutex());
  return forward_backward_locked(images, labels).loss;
}

StepResult Trainer::step(const at::Tensor& images, const at::Tensor& labels) {
  std::lock_guard<std::mutex> lock(model_->mutex());
  StepResult r;
  r.lr = lr_at(step_);
  apply_lr(r.lr);
  const Pass pass = forward_backward_locked(images, labels);
  r.loss = pass.loss;
  if (options_.clip_grad_norm > 0) {
    r.grad_norm = torch::nn::utils::clip_grad_norm_(params_, options_.clip_grad_norm);
  }
  optimizer_->step();
  ++step_;
  r.correct = pass.logits.detach().argmax(1).eq(pass.labels).sum().item<int64_t>();
  r.samples = pass.labels.size(0);
  return r;
}

EvalResult Trainer::evaluate(const at::Tensor& images_in, const at::Tensor& labels_in) {
  std::lock_guard<std::mutex> lock(model_->mutex());
  at::NoGradGuard no_grad;
  const at::Device device = model_->device();
  const at::Tensor images = images_in.to(device);
  const at::Tensor labels = labels_in.to(device, at::kLong);
  model_->train(false);
  at::Tensor logits;
  {
    AutocastScope autocast(options_.mixed_precision && device.is_cuda());
    logits = model_->forward(images).to(at::kFloat);
  }
  EvalResult r;
  r.samples = images.size(0);
  r.loss_sum = F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
  at::Tensor hit1 = logits.argmax(1).eq(labels);
  r.top1 = hit1.sum().item<int64_t>();
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  at::Tensor topk = std::get<1>(logits.topk(k, 1));
  r.top5 = topk.eq(labels.unsqueeze(1)).any(1).sum().item<int64_t>();
  r.correct = hit1.to(at::kCPU, at::kByte);
  return r;
}

void Trainer::save_state(const std::string& path) {
  std::lock_guard<std::mutex> lock(model_->mutex());
  write_optimizer_state(path, *optimizer_, options_.optimizer.kind, {param_names_, params_}, step_);
}

void Trainer::load_state(const std::string& path) {
  std::lock_guard<std::mutex> lock(model_->mutex());
  char magic[4] = {0, 0, 0, 0};
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) throw std::runtime_error("Cannot open optimizer state '" + path + "': " + std::strerror(errno));
    const size_t got = std::fread(magic, 1, 4, f);
    std::fclose(f);
    (void)got;
  }
  if (std::memcmp(magic, "PK\x03\x04", 4) != 0) {
    step_ = read_optimizer_state(path, *optimizer_, options_.optimizer.kind, {param_names_, params_});
    return;
  }
  // A checkpoint written before the safetensors format: libtorch's own archive (a TorchScript zip,
  // parsed by libtorch and not fuzzed by us), read as it always was.
  torch::serialize::InputArchive archive;
  archive.load_from(path, model_->device());
  optimizer_->load(archive);
  at::Tensor step;
  archive.read("step", step);
  step_ = step.item<int64_t>();
}

std::vector<double> time_forward_backward(Trainer& trainer, const at::Tensor& images, const at::Tensor& labels,
                                          int64_t iterations) {
  TORCH_CHECK_VALUE(iterations >= 1, "Expected positive integer for iterations but received ", iterations);
  std::vector<double> seconds;
  seconds.reserve(static_cast<size_t>(iterations));
  for (int64_t i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    trainer.forward_backward(images, labels);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return seconds;
}

}  // namespace train
}  // namespace noisynn
