// Optimizer state in safetensors: writer, and a reader that validates the whole file first.
#include "train/optimizer_state.h"

#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "models/safetensors.h"
#include "train/trainer.h"

namespace noisynn {
namespace train {

namespace {

constexpr const char* kFormat = "noisynn-optimizer-state";
constexpr const char* kVersion = "1";

const char* kind_name(OptimizerKind kind) { return kind == OptimizerKind::AdamW ? "adamw" : "sgd"; }

// The key libtorch's optimizers file a parameter's state under: the TensorImpl's address, as a
// string on libtorch 1.13 and as the pointer itself on 2.x.
template <typename Map>
typename Map::key_type state_key(const Map&, const at::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("Cannot load optimizer state from '" + path + "': " + what);
}

std::string shape_string(at::IntArrayRef s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ']';
  return o.str();
}

}  // namespace

void write_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer, OptimizerKind kind,
                           const NamedParams& params, int64_t step) {
  auto& state = optimizer.state();
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (size_t i = 0; i < params.tensors.size(); ++i) {
    auto it = state.find(state_key(state, params.tensors[i]));
    if (it == state.end()) continue;  // not stepped yet
    const std::string& name = params.names[i];
    if (kind == OptimizerKind::AdamW) {
      const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
      tensors.emplace_back(name + ".exp_avg", s.exp_avg());
      tensors.emplace_back(name + ".exp_avg_sq", s.exp_avg_sq());
      tensors.emplace_back(name + ".step", torch::tensor(s.step(), at::kLong));
    } else {
      const auto& s = static_cast<const torch::optim::SGDParamState&>(*it->second);
      if (s.momentum_buffer().defined()) tensors.emplace_back(name + ".momentum_buffer", s.momentum_buffer());
    }
  }
  models::write_safetensors(path, tensors,
                            {{"format", kFormat},
                             {"version", kVersion},
                             {"optimizer", kind_name(kind)},
                             {"step", std::to_string(step)},
                             {"params", std::to_string(params.tensors.size())}});
}

int64_t read_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer, OptimizerKind kind,
                             const NamedParams& params) {
  models::SafetensorsFile file;
  try {
    file = models::read_safetensors(path);
  } catch (const std::exception& e) {
    fail(path, e.what());
  }
  const auto meta = [&](const char* key) -> std::string {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      fail(path, std::string("no '") + key + "' in its metadata (not an optimizer state file)");
    return it->second;
  };
  if (meta("format") != kFormat) fail(path, "its metadata names format '" + meta("format") + "', not " + kFormat);
  if (meta("version") != kVersion) fail(path, "version " + meta("version") + " (this build reads version 1)");
  if (meta("optimizer") != kind_name(kind)) {
    fail(path, "it holds " + meta("optimizer") + " state but this trainer's optimizer is " + kind_name(kind));
  }
  const auto parse_count = [&](const char* key) -> int64_t {
    const std::string v = meta(key);
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
      fail(path, std::string("metadata '") + key + "' is '" + v + "', not a non-negative integer");
    return std::stoll(v);
  };
  const int64_t step = parse_count("step");
  if (parse_count("params") != static_cast<int64_t>(params.tensors.size())) {
    fail(path, "it was written for " + meta("params") + " parameters but this model has " +
                   std::to_string(params.tensors.size()));
  }

  std::map<std::string, at::Tensor> by_name(file.tensors.begin(), file.tensors.end());
  const auto take = [&](const std::string& name, const at::Tensor& like, bool scalar_step) -> at::Tensor {
    auto it = by_name.find(name);
    if (it == by_name.end()) return at::Tensor();
    at::Tensor t = it->second;
    by_name.erase(it);
    if (scalar_step) {
      if (t.scalar_type() != at::kLong || t.dim() != 0) fail(path, "'" + name + "' is not an int64 scalar");
      return t;
    }
    if (!at::isFloatingType(t.scalar_type())) fail(path, "'" + name + "' is not floating point");
    if (t.sizes() != like.sizes()) {
      fail(path, "'" + name + "' has shape " + shape_string(t.sizes()) + " but the parameter has " +
                     shape_string(like.sizes()));
    }
    return t.to(like.device(), like.scalar_type()).contiguous();
  };

  // Everything is read and checked before the optimizer is touched.
  std::vector<std::unique_ptr<torch::optim::OptimizerParamState>> states(params.tensors.size());
  for (size_t i = 0; i < params.tensors.size(); ++i) {
    const std::string& name = params.names[i];
    const at::Tensor& p = params.tensors[i];
    if (kind == OptimizerKind::AdamW) {
      at::Tensor m = take(name + ".exp_avg", p, false), v = take(name + ".exp_avg_sq", p, false);
      at::Tensor n = take(name + ".step", p, true);
      if (!m.defined() && !v.defined() && !n.defined()) continue;
      if (!m.defined() || !v.defined() || !n.defined())
        fail(path, "parameter '" + name + "' has only part of its AdamW state (exp_avg, exp_avg_sq, step)");
      const int64_t s = n.item<int64_t>();
      if (s < 1) fail(path, "'" + name + ".step' is " + std::to_string(s) + " (a stepped parameter has 1 or more)");
      if ((v < 0).any().item<bool>()) fail(path, "'" + name + ".exp_avg_sq' has negative entries");
      auto st = std::make_unique<torch::optim::AdamWParamState>();
      st->step(s);
      st->exp_avg(m);
      st->exp_avg_sq(v);
      states[i] = std::move(st);
    } else {
      at::Tensor b = take(name + ".momentum_buffer", p, false);
      if (!b.defined()) continue;
      auto st = std::make_unique<torch::optim::SGDParamState>();
      st->momentum_buffer(b);
      states[i] = std::move(st);
    }
  }
  if (!by_name.empty()) fail(path, "unexpected tensor '" + by_name.begin()->first + "' (another model?)");

  auto& state = optimizer.state();
  state.clear();
  for (size_t i = 0; i < params.tensors.size(); ++i) {
    if (states[i]) state[state_key(state, params.tensors[i])] = std::move(states[i]);
  }
  return step;
}

}  // namespace train
}  // namespace noisynn
