// The optimizer state of a checkpoint (AdamW moments, SGD momentum, the step counter) as a
// safetensors file, read by the bounds-checked reader of models/safetensors.h and checked tensor
// by tensor against the trainer's parameters before anything is changed.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace noisynn {
namespace train {

enum class OptimizerKind;

// The parameters an optimizer updates, in its order, with their model names.
struct NamedParams {
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
};

// Writes `optimizer`'s per-parameter state and `step` to `path` atomically: tensors
// "<param>.exp_avg", "<param>.exp_avg_sq", "<param>.step" (AdamW) or "<param>.momentum_buffer"
// (SGD), for each parameter that has state; metadata format, optimizer, step and params.
void write_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer, OptimizerKind kind,
                           const NamedParams& params, int64_t step);

// Reads a file written by write_optimizer_state into `optimizer` and returns its step. Throws
// std::runtime_error naming the file and the first problem (not safetensors, another optimizer,
// an unknown, missing or mis-shaped tensor, a bad step), and then changes nothing.
int64_t read_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer, OptimizerKind kind,
                             const NamedParams& params);

}  // namespace train
}  // namespace noisynn
