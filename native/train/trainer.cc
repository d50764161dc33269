// The training step, batch evaluation, optimizer-state checkpoints and the step timing helper.
#include "train/trainer.h"

#include "common/durable_file.h"
#include "distributed/gradient_sync.h"
#include "distributed/group.h"
#include "train/optimizer_state.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sstream>
#include <type_traits>

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

// Points the model's noise site at the trainer's group for the span of one collective call.
class SiteGroup {
 public:
  SiteGroup(models::Model& model, const std::shared_ptr<dist::Group>& group)
      : site_(model.noise_site()), on_(group != nullptr) {
    if (on_) site_.set_group(group);
  }
  ~SiteGroup() {
    if (on_) site_.set_group(nullptr);
  }
  SiteGroup(const SiteGroup&) = delete;
  SiteGroup& operator=(const SiteGroup&) = delete;

 private:
  models::NoiseSite& site_;
  bool on_;
};

// What every rank of a group must agree on, as text (the error message shows both sides).
std::string model_digest(const models::Model& model) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over "name[sizes]dtype;" of every tensor
  int64_t tensors = 0, values = 0;
  for (const auto& kv : model.state_dict()) {
    std::ostringstream os;
    os << kv.first << kv.second.sizes() << kv.second.scalar_type() << ';';
    for (const unsigned char c : os.str()) h = (h ^ c) * 1099511628211ull;
    ++tensors;
    values += kv.second.numel();
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::to_string(tensors) + " tensors of " + std::to_string(values) + " values (names, shapes and dtypes " +
         hex + ")";
}

std::string noise_summary(const models::NoiseSiteConfig& c) {
  std::ostringstream os;
  os << "kind " << noise_kind_name(c.params.kind) << ", strength " << c.params.strength << ", mean " << c.params.mean
     << ", std " << c.params.std << ", detach " << c.params.detach << ", axis "
     << (c.axis == models::NoiseAxis::Batch ? "batch" : "spatial") << ", when " << static_cast<int>(c.when) << ", site "
     << models::noise_site_name(c.site) << ", layer " << c.layer << ", stage " << c.stage << ", block " << c.block
     << ", scope " << (c.scope == models::NoiseScope::Global ? "global" : "local");
  return os.str();
}

std::string options_summary(const TrainerOptions& o) {
  std::ostringstream os;
  os.precision(17);
  const OptimizerOptions& p = o.optimizer;
  os << "optimizer " << (p.kind == OptimizerKind::AdamW ? "adamw" : "sgd") << ", lr " << p.lr << ", weightDecay "
     << p.weight_decay << ", momentum " << p.momentum << ", nesterov " << p.nesterov << ", betas " << p.beta1 << " "
     << p.beta2 << ", eps " << p.eps << ", schedule " << static_cast<int>(o.schedule.kind) << " warmup "
     << o.schedule.warmup_steps << " minLr " << o.schedule.min_lr << " stepSize " << o.schedule.step_size << " gamma "
     << o.schedule.gamma << ", labelSmoothing " << o.label_smoothing << ", clipGradNorm " << o.clip_grad_norm
     << ", mixedPrecision " << o.mixed_precision;
  return os.str();
}

// The optimizer's state tensors of parameter `p` (AdamW's moments, SGD's momentum buffer), or
// none before its first step. libtorch 1.x keys the states by the parameter's TensorImpl address
// as a string, 2.x by the address itself.
template <typename Map>
auto find_state(Map& states, const at::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, std::string>) {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return states.find(key.str());
  } else {
    return states.find(p.unsafeGetTensorImpl());
  }
}

std::vector<at::Tensor> state_tensors(torch::optim::Optimizer& optimizer, OptimizerKind kind, const at::Tensor& p) {
  auto& states = optimizer.state();
  auto it = find_state(states, p);
  if (it == states.end() || it->second == nullptr) return {};
  if (kind == OptimizerKind::AdamW) {
    auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
    return {s.exp_avg(), s.exp_avg_sq()};
  }
  return {static_cast<torch::optim::SGDParamState&>(*it->second).momentum_buffer()};
}

}  // namespace

Trainer::~Trainer() = default;

// The optimizer over `params` (named as `names`): weight decay on the decaying ones only.
static std::unique_ptr<torch::optim::Optimizer> build_optimizer(const OptimizerOptions& o,
                                                                const std::vector<std::string>& names,
                                                                const std::vector<at::Tensor>& params) {
  std::vector<at::Tensor> decay, no_decay;
  for (size_t i = 0; i < params.size(); ++i) (decays(names[i], params[i]) ? decay : no_decay).push_back(params[i]);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (o.kind == OptimizerKind::AdamW) {
    auto opts = [&](double wd) {
      return std::make_unique<torch::optim::AdamWOptions>(
          torch::optim::AdamWOptions(o.lr).betas(std::make_tuple(o.beta1, o.beta2)).eps(o.eps).weight_decay(wd));
    };
    if (!decay.empty()) groups.emplace_back(decay, opts(o.weight_decay));
    if (!no_decay.empty()) groups.emplace_back(no_decay, opts(0.0));
    return std::make_unique<torch::optim::AdamW>(std::move(groups), torch::optim::AdamWOptions(o.lr));
  }
  auto opts = [&](double wd) {
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(o.lr).momentum(o.momentum).nesterov(o.nesterov).weight_decay(wd));
  };
  if (!decay.empty()) groups.emplace_back(decay, opts(o.weight_decay));
  if (!no_decay.empty()) groups.emplace_back(no_decay, opts(0.0));
  return std::make_unique<torch::optim::SGD>(std::move(groups), torch::optim::SGDOptions(o.lr));
}

Trainer::Trainer(std::shared_ptr<models::Model> model, TrainerOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  TORCH_CHECK(model_, "Trainer: no model");
  for (const auto& item : model_->named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    params_.push_back(item.value());
    param_names_.push_back(item.key());
  }
  optimizer_ = build_optimizer(options_.optimizer, param_names_, params_);
}

double Trainer::lr_at(int64_t step) const {
  TORCH_CHECK_VALUE(step >= schedule_origin_, "Step ", step,
                    " is before the schedule's current span, which starts at step ", schedule_origin_,
                    " (each fit restarts the schedule at its first step)");
  return learning_rate(options_.schedule, options_.optimizer.lr, step - schedule_origin_);
}

void Trainer::set_schedule_span(int64_t origin, int64_t total) {
  TORCH_CHECK_VALUE(origin >= 0 && total >= 1, "a schedule span needs origin >= 0 and total >= 1, not ", origin,
                    " and ", total);
  schedule_origin_ = origin;
  options_.schedule.total_steps = total;
}

void Trainer::check_labels(const at::Tensor& labels) const {
  if (labels.numel() == 0) return;
  // One small reduction and one host copy: what libtorch would otherwise report as
  // "Target 20 is out of bounds" (or, on CUDA, a device-side assert).
  const auto [lo_t, hi_t] = at::aminmax(labels);
  const at::Tensor both = at::stack({lo_t, hi_t}).to(at::kCPU);
  const int64_t lo = both[0].item<int64_t>(), hi = both[1].item<int64_t>();
  const int64_t classes = model_->num_classes();
  TORCH_CHECK_VALUE(lo >= 0 && hi < classes, "Expected labels in [0, ", classes, ") for a model of numClasses ",
                    classes, " but the batch holds label ", lo < 0 ? lo : hi);
}

void Trainer::apply_lr(double lr) {
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
}

at::Tensor Trainer::loss_of(const at::Tensor& logits, const at::Tensor& labels, double smoothing) const {
  return F::cross_entropy(logits.to(at::kFloat), labels, F::CrossEntropyFuncOptions().label_smoothing(smoothing));
}

Trainer::Pass Trainer::forward_backward_locked(const at::Tensor& images_in, const at::Tensor& labels_in,
                                               dist::GradientSync* sync, bool stop) {
  const at::Device device = model_->device();
  TORCH_CHECK_VALUE(!options_.mixed_precision || device.is_cuda(),
                    "mixedPrecision (bf16 autocast) needs the model on a CUDA device, but it is on ", device.str());
  const at::Tensor images = images_in.to(device);
  Pass pass;
  pass.labels = labels_in.to(device, at::kLong);
  TORCH_CHECK_VALUE(pass.labels.dim() == 1 && pass.labels.size(0) == images.size(0), "labels must be [", images.size(0),
                    "] but are ", pass.labels.sizes());
  check_labels(pass.labels);

  model_->train(true);
  {
    // Dropout and drop-path draw from the default generator of the model's device (the CPU one,
    // or the CUDA one of its GPU): key it by (seed, step) so a resumed run replays exactly what
    // an uninterrupted one would.
    auto gen = device.is_cpu() ? at::detail::getDefaultCPUGenerator() : at::globalContext().defaultGenerator(device);
    std::lock_guard<std::mutex> glock(gen.mutex());
    // Each rank of a group draws its own masks (rank 0 the same as a lone process).
    const uint64_t rank = group_ ? static_cast<uint64_t>(group_->rank()) : 0;
    gen.set_current_seed(mix(options_.seed ^ (rank * 0xD1B54A32D192ED03ull), static_cast<uint64_t>(step_)));
  }
  optimizer_->zero_grad();
  {
    AutocastScope autocast(options_.mixed_precision);
    pass.logits = model_->forward(images);
  }
  at::Tensor loss = loss_of(pass.logits, pass.labels, options_.label_smoothing);
  pass.loss = loss.item<double>();  // one host sync for the check and the report
  if (sync == nullptr) {
    TORCH_CHECK(std::isfinite(pass.loss), "training diverged: the loss is ", pass.loss, " at step ", step_,
                " (lower the learning rate or set clipGradNorm)");
    loss.backward();
    return pass;
  }
  // Data-parallel: the batch's loss, hits and size (and the wish to stop) are summed over the
  // ranks while backward runs, and the gradients averaged bucket by bucket as it produces them.
  const auto n = static_cast<double>(pass.labels.size(0));
  const auto hits = static_cast<double>(pass.logits.detach().argmax(1).eq(pass.labels).sum().item<int64_t>());
  sync->begin({pass.loss * n, hits, n, stop ? 1.0 : 0.0});
  loss.backward();
  const std::vector<double> total = sync->finish();
  pass.loss = total[0] / total[2];
  pass.correct = std::llround(total[1]);
  pass.samples = std::llround(total[2]);
  pass.stop = total[3] > 0;
  // Checked after the exchange, so that every rank throws together instead of leaving the others waiting.
  TORCH_CHECK(std::isfinite(pass.loss), "training diverged: the loss of the global batch is ", pass.loss, " at step ",
              step_, " (lower the learning rate or set clipGradNorm)");
  return pass;
}

double Trainer::forward_backward(const at::Tensor& images, const at::Tensor& labels) {
  std::lock_guard<std::mutex> lock(model_->mutex());
  return forward_backward_locked(images, labels).loss;
}

void Trainer::join_group(std::shared_ptr<dist::Group> group) {
  TORCH_CHECK(group != nullptr, "join_group: no process group");
  std::lock_guard<std::mutex> lock(model_->mutex());
  TORCH_CHECK(group_ == nullptr, "this trainer already belongs to a process group");
  group->agree("the model (its parameter and buffer names, shapes and dtypes)", model_digest(*model_));
  group->agree("the model's noise (all but its seed)", noise_summary(model_->noise()));
  group->agree("the trainer's options (all but its seed)", options_summary(options_));
  at::NoGradGuard no_grad;
  const at::Device device = model_->device();
  // Rank 0's seeds: 'global' noise is one stream over the global batch, and every rank's dropout
  // derives from one seed; then rank 0's parameters and buffers.
  models::NoiseSiteConfig noise = model_->noise();
  at::Tensor seeds =
      at::tensor(std::vector<int64_t>{static_cast<int64_t>(options_.seed), static_cast<int64_t>(noise.params.seed)},
                 at::TensorOptions().dtype(at::kLong))
          .to(device);
  group->broadcast(seeds, 0, "broadcast of rank 0's seeds").wait();
  seeds = seeds.to(at::kCPU);
  options_.seed = static_cast<uint64_t>(seeds[0].item<int64_t>());
  noise.params.seed = static_cast<uint64_t>(seeds[1].item<int64_t>());
  model_->noise_site().configure(noise);
  std::vector<at::Tensor> state;
  for (auto& kv : model_->state_dict()) state.push_back(kv.second);
  std::vector<dist::Work> works;
  for (at::Tensor& t : state) works.push_back(group->broadcast(t, 0, "broadcast of rank 0's parameters and buffers"));
  for (dist::Work& w : works) w.wait();
  group_ = std::move(group);
}

StepResult Trainer::step(const at::Tensor& images, const at::Tensor& labels, bool stop) {
  std::lock_guard<std::mutex> lock(model_->mutex());
  StepResult r;
  r.lr = lr_at(step_);
  apply_lr(r.lr);
  dist::GradientSync* sync = nullptr;
  if (group_ && group_->world_size() > 1) {
    if (!sync_) sync_ = std::make_unique<dist::GradientSync>(group_, params_);
    sync = sync_.get();
    group_->set_progress(step_);
    // BatchNorm statistics follow rank 0's, as in PyTorch's DDP (broadcast_buffers).
    std::vector<at::Tensor> buffers;
    for (const auto& item : model_->named_buffers(/*recurse=*/true)) buffers.push_back(item.value());
    std::vector<dist::Work> works;
    for (at::Tensor& b : buffers) works.push_back(group_->broadcast(b, 0, "broadcast of rank 0's buffers"));
    for (dist::Work& w : works) w.wait();
  }
  const SiteGroup in_group(*model_, group_);
  const Pass pass = forward_backward_locked(images, labels, sync, stop);
  r.loss = pass.loss;
  if (options_.clip_grad_norm > 0) {
    r.grad_norm = torch::nn::utils::clip_grad_norm_(params_, options_.clip_grad_norm);
  }
  optimizer_->step();
  ++step_;
  if (pass.correct >= 0) {
    r.correct = pass.correct;
    r.samples = pass.samples;
    r.stop = pass.stop;
  } else {
    r.correct = pass.logits.detach().argmax(1).eq(pass.labels).sum().item<int64_t>();
    r.samples = pass.labels.size(0);
    r.stop = stop;
  }
  return r;
}

EvalResult Trainer::evaluate(const at::Tensor& images_in, const at::Tensor& labels_in, int64_t valid,
                             bool local_noise) {
  std::lock_guard<std::mutex> lock(model_->mutex());
  at::NoGradGuard no_grad;
  const at::Device device = model_->device();
  const at::Tensor images = images_in.to(device);
  const at::Tensor labels = labels_in.to(device, at::kLong);
  TORCH_CHECK_VALUE(labels.dim() == 1 && labels.size(0) == images.size(0), "labels must be [", images.size(0),
                    "] but are ", labels.sizes());
  check_labels(labels);
  model_->train(false);
  at::Tensor logits;
  {
    const SiteGroup in_group(*model_, local_noise ? nullptr : group_);
    AutocastScope autocast(options_.mixed_precision && device.is_cuda());
    logits = model_->forward(images).to(at::kFloat);
  }
  const int64_t batch = images.size(0);
  const int64_t n = valid < 0 ? batch : std::min(valid, batch);
  EvalResult r;
  r.samples = n;
  at::Tensor hit1 = logits.argmax(1).eq(labels);
  if (n > 0) {
    const at::Tensor l = logits.narrow(0, 0, n), y = labels.narrow(0, 0, n);
    r.loss_sum = F::cross_entropy(l, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    r.top1 = hit1.narrow(0, 0, n).sum().item<int64_t>();
    const int64_t k = std::min<int64_t>(5, logits.size(1));
    at::Tensor topk = std::get<1>(l.topk(k, 1));
    r.top5 = topk.eq(y.unsqueeze(1)).any(1).sum().item<int64_t>();
  }
  r.correct = hit1.narrow(0, 0, n).to(at::kCPU, at::kByte).contiguous();
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
  // libtorch's optimizers assert (an internal error) on another optimizer's state, after
  // loading part of it: check the kind first, so a mismatch changes nothing.
  auto name = [](OptimizerKind k) { return k == OptimizerKind::AdamW ? "adamw" : "sgd"; };
  at::Tensor kind;
  if (archive.try_read("optimizer_kind", kind)) {
    const auto saved = static_cast<OptimizerKind>(kind.item<int64_t>());
    TORCH_CHECK_VALUE(saved == options_.optimizer.kind, "The optimizer state ", path, " is of optimizer '", name(saved),
                      "' but this trainer's optimizer is '", name(options_.optimizer.kind), "'");
  }
  // Loaded into a scratch optimizer first: another optimizer's state (the oldest archives do not
  // record theirs), which libtorch finds out part-way through, or states matched to the wrong
  // parameters (an archive of libtorch 1.x read by 2.x: the two key their states differently)
  // must leave this trainer's optimizer untouched.
  auto scratch = build_optimizer(options_.optimizer, param_names_, params_);
  try {
    scratch->load(archive);
  } catch (const c10::Error& e) {
    TORCH_CHECK_VALUE(false, "The optimizer state ", path, " is not ", name(options_.optimizer.kind),
                      " state for this trainer's parameters: ", e.what_without_backtrace());
  }
  at::Tensor saved_step;
  archive.read("step", saved_step);
  size_t found = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i];
    const std::vector<at::Tensor> states = state_tensors(*scratch, options_.optimizer.kind, p);
    found += states.empty() ? 0 : 1;
    for (const at::Tensor& t : states) {
      TORCH_CHECK_VALUE(!t.defined() || t.sizes() == p.sizes(), "The optimizer state ", path, " gives parameter '",
                        param_names_[i], "' (", p.sizes(), ") a state of shape ", t.sizes(),
                        ": the archive does not match this trainer's parameters (libtorch archives written by "
                        "libtorch 1.x cannot be read by 2.x; resume with the libtorch that wrote it)");
    }
  }
  TORCH_CHECK_VALUE(found > 0 || saved_step.item<int64_t>() == 0 || options_.optimizer.kind == OptimizerKind::SGD,
                    "The optimizer state ", path, " holds no state for any of this trainer's parameters after ",
                    saved_step.item<int64_t>(), " steps: it does not match this trainer's parameters");
  optimizer_->load(archive);
  step_ = saved_step.item<int64_t>();
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
