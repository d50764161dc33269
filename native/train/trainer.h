// The training step and batch evaluation of a NoisyNN model: optimizer, schedule, loss, clipping,
// autocast, and the optimizer state a checkpoint carries.
//
// A native loop needs nothing else:
//   noisynn::train::Trainer trainer(model, options);
//   trainer.set_total_steps(epochs * loader.size());
//   while (auto batch = loader.next()) trainer.step(batch->images, batch->labels);
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "train/schedule.h"

namespace noisynn {
namespace train {

enum class OptimizerKind { AdamW, SGD };

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::AdamW;
  double lr = 1e-3;
  double weight_decay = 0.05;  // applied to weights only: never to norms, biases, cls_token, pos_embed
  double momentum = 0.9;       // SGD
  bool nesterov = false;       // SGD
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // AdamW
};

struct TrainerOptions {
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  double label_smoothing = 0.0;
  double clip_grad_norm = 0.0;   // 0: no clipping
  bool mixed_precision = false;  // bf16 autocast (CUDA only)
  uint64_t seed = 0;             // keys dropout / drop-path randomness per step
};

struct StepResult {
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;  // before clipping (0 when clipping is off)
  int64_t correct = 0;
  int64_t samples = 0;
};

struct EvalResult {
  double loss_sum = 0;  // summed (not averaged) cross-entropy, without label smoothing
  int64_t top1 = 0, top5 = 0, samples = 0;
  at::Tensor correct;  // uint8 [B]: top-1 hit per sample, for paired tests (the leakage audit)
};

OptimizerKind parse_optimizer_kind(const std::string& name);

class Trainer {
 public:
  Trainer(std::shared_ptr<models::Model> model, TrainerOptions options);

  // One optimizer step on a batch: forward (train mode), loss, backward, clip, step, schedule.
  StepResult step(const at::Tensor& images, const at::Tensor& labels);
  // The first half of step(), alone: train mode, zero grads, forward, loss, backward, with the
  // dropout seed of the current step. No clipping, optimizer step or schedule; nothing advances
  // but the model's noise offset. Returns the loss. What the benchmarks time (see below).
  double forward_backward(const at::Tensor& images, const at::Tensor& labels);
  // Loss and top-1/top-5 hits of a batch in eval mode, without gradients.
  EvalResult evaluate(const at::Tensor& images, const at::Tensor& labels);

  double lr_at(int64_t step) const { return learning_rate(options_.schedule, options_.optimizer.lr, step); }
  int64_t global_step() const { return step_; }
  void set_global_step(int64_t step) { step_ = step; }
  void set_total_steps(int64_t total) { options_.schedule.total_steps = total; }
  const TrainerOptions& options() const { return options_; }
  models::Model& model() { return *model_; }

  // Optimizer state (moments, momentum buffers) and the step counter, written atomically
  // (temporary file, fsync, rename) as safetensors (train/optimizer_state.h); load restores both,
  // after checking every tensor against this trainer's parameters, and also reads the libtorch
  // archives that checkpoints held before.
  void save_state(const std::string& path);
  void load_state(const std::string& path);

 private:
  // A forward_backward's outputs that step() goes on with (inputs moved to the model's device).
  struct Pass {
    at::Tensor logits, labels;
    double loss = 0;
  };
  Pass forward_backward_locked(const at::Tensor& images, const at::Tensor& labels);
  void apply_lr(double lr);
  at::Tensor loss_of(const at::Tensor& logits, const at::Tensor& labels, double smoothing) const;

  std::shared_ptr<models::Model> model_;
  TrainerOptions options_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<at::Tensor> params_;
  std::vector<std::string> param_names_;  // the model's names of params_, for the state file
  int64_t step_ = 0;
};

// Seconds of each of `iterations` forward_backward() calls on one batch, timed natively: the
// training step as bench/models.js and bench/data.js measure it, with the trainer's own code.
std::vector<double> time_forward_backward(Trainer& trainer, const at::Tensor& images, const at::Tensor& labels,
                                          int64_t iterations);

}  // namespace train
}  // namespace noisynn
