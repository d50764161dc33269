// The training step and batch evaluation of a NoisyNN model: optimizer, schedule, loss, clipping,
// autocast, and the optimizer state a checkpoint carries.
//
// A native loop needs nothing else:
//   noisynn::train::Trainer trainer(model, options);
//   trainer.set_schedule_span(trainer.global_step(), epochs * loader.size());
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
namespace dist {
class Group;
class GradientSync;
}  // namespace dist
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
  bool stop = false;  // some rank asked to stop after this step (always the caller's wish alone)
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
  ~Trainer();

  // Makes this trainer one rank of a data-parallel group; every rank calls it (it is collective).
  // Checks that all ranks hold the same model (parameter and buffer names, shapes, dtypes), noise
  // and trainer options, and adopts rank 0's seeds and its parameters and buffers. From then on
  // every step averages the gradients over the ranks (and reports the loss and hits of the global
  // batch), and steps and evaluations mix 'global'-scope noise over the global batch.
  void join_group(std::shared_ptr<dist::Group> group);
  const std::shared_ptr<dist::Group>& group() const { return group_; }

  // One optimizer step on a batch: forward (train mode), loss, backward, clip, step, schedule.
  // In a group, `stop` is this rank's wish to stop after this step, and the result's stop is
  // true on every rank when any rank wished it (so that all stop after the same step).
  StepResult step(const at::Tensor& images, const at::Tensor& labels, bool stop = false);
  // The first half of step(), alone: train mode, zero grads, forward, loss, backward, with the
  // dropout seed of the current step. No clipping, optimizer step or schedule; nothing advances
  // but the model's noise offset. Returns the loss. What the benchmarks time (see below).
  double forward_backward(const at::Tensor& images, const at::Tensor& labels);
  // Loss and top-1/top-5 hits of a batch in eval mode, without gradients, counting only its
  // first `valid` samples (all when negative): a sharded loader pads the last batch of some
  // ranks with repeats, which the noise mixes but the metrics must not count.
  // `local_noise`: in a group, mix 'global' noise over this rank's batch only.
  EvalResult evaluate(const at::Tensor& images, const at::Tensor& labels, int64_t valid = -1, bool local_noise = false);

  // The learning rate of global optimizer step `step` (0-based): the schedule's step
  // `step - schedule_origin()`. Throws c10::ValueError for a step before the span's origin.
  double lr_at(int64_t step) const;
  int64_t global_step() const { return step_; }
  void set_global_step(int64_t step) { step_ = step; }
  // The schedule spans `total` steps from global step `origin`: warmup and decay restart there.
  // lib/trainer sets it to each fit's own steps, unless the user gave schedule.totalSteps (a
  // single span from step 0, as constructed).
  void set_schedule_span(int64_t origin, int64_t total);
  int64_t schedule_origin() const { return schedule_origin_; }
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
    int64_t correct = -1, samples = 0;  // set by a synchronised pass: the global batch's
    bool stop = false;
  };
  // With `sync`, the gradients are averaged over the group during backward.
  Pass forward_backward_locked(const at::Tensor& images, const at::Tensor& labels, dist::GradientSync* sync = nullptr,
                               bool stop = false);
  void apply_lr(double lr);
  at::Tensor loss_of(const at::Tensor& logits, const at::Tensor& labels, double smoothing) const;
  // Throws c10::ValueError naming the label and numClasses unless every label is in [0, numClasses).
  void check_labels(const at::Tensor& labels) const;

  std::shared_ptr<models::Model> model_;
  TrainerOptions options_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<at::Tensor> params_;
  std::vector<std::string> param_names_;  // the model's names of params_, for the state file
  int64_t step_ = 0;
  int64_t schedule_origin_ = 0;
  std::shared_ptr<dist::Group> group_;
  std::unique_ptr<dist::GradientSync> sync_;  // made at the first step in a group of several ranks
};

// Seconds of each of `iterations` forward_backward() calls on one batch, timed natively: the
// training step as bench/models.js and bench/data.js measure it, with the trainer's own code.
std::vector<double> time_forward_backward(Trainer& trainer, const at::Tensor& images, const at::Tensor& labels,
                                          int64_t iterations);

}  // namespace train
}  // namespace noisynn
