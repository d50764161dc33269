// Weight import/export: matches safetensors entries to a model's state by name and shape.
#include "models/weights.h"

#include <map>
#include <sstream>

#include "models/safetensors.h"

namespace noisynn {
namespace models {

namespace {

std::string shape_string(at::IntArrayRef sizes) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < sizes.size(); ++i) s << (i ? ", " : "") << sizes[i];
  s << ']';
  return s.str();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "3 missing keys: a, b, c" with long lists cut after a few names.
std::string list_names(const std::vector<std::string>& names, const char* singular, const char* plural) {
  constexpr size_t kShown = 12;
  std::ostringstream s;
  s << names.size() << ' ' << (names.size() == 1 ? singular : plural) << ": ";
  for (size_t i = 0; i < names.size() && i < kShown; ++i) s << (i ? ", " : "") << names[i];
  if (names.size() > kShown) s << ", ... (" << names.size() - kShown << " more)";
  return s.str();
}

}  // namespace

LoadReport load_weights(Model& model, const std::string& path, bool strict) {
  SafetensorsFile file = read_safetensors(path);
  std::map<std::string, at::Tensor> source;
  std::vector<std::string> file_order;
  for (auto& kv : file.tensors) {
    file_order.push_back(kv.first);
    source.emplace(kv.first, kv.second);
  }

  LoadReport report;
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (destination, source)
  std::vector<at::Tensor> reset_counters;
  std::map<std::string, bool> in_model;
  for (auto& kv : model.state_dict()) {
    const std::string& name = kv.first;
    in_model[name] = true;
    auto it = source.find(name);
    if (it == source.end()) {
      if (ends_with(name, "num_batches_tracked")) {
        reset_counters.push_back(kv.second);
      } else {
        report.missing.push_back(name);
      }
      continue;
    }
    if (it->second.sizes() != kv.second.sizes()) {
      report.mismatched.push_back(name + " (file " + shape_string(it->second.sizes()) + ", model " +
                                  shape_string(kv.second.sizes()) + ")");
      continue;
    }
    copies.emplace_back(kv.second, it->second);
    report.loaded.push_back(name);
  }
  for (const auto& name : file_order) {
    if (!in_model.count(name)) report.unexpected.push_back(name);
  }

  if (strict && (!report.missing.empty() || !report.unexpected.empty() || !report.mismatched.empty())) {
    std::ostringstream msg;
    msg << "Cannot load weights from '" << path << "' into this " << model.family() << " model (strict): ";
    bool first = true;
    auto part = [&](const std::vector<std::string>& names, const char* singular, const char* plural) {
      if (names.empty()) return;
      msg << (first ? "" : "; ") << list_names(names, singular, plural);
      first = false;
    };
    part(report.missing, "missing key", "missing keys");
    part(report.unexpected, "unexpected key", "unexpected keys");
    part(report.mismatched, "shape mismatch", "shape mismatches");
    msg << ". Pass {strict: false} to load only the matching tensors.";
    throw std::runtime_error(msg.str());
  }

  torch::NoGradGuard no_grad;
  for (auto& c : copies) c.first.copy_(c.second);  // converts dtype and device
  for (auto& t : reset_counters) t.zero_();
  return report;
}

void save_weights(const Model& model, const std::string& path) {
  write_safetensors(path, model.state_dict(),
                    {{"format", "pt"}, {"producer", "noisynn-native"}, {"family", model.family()}});
}

}  // namespace models
}  // namespace noisynn
