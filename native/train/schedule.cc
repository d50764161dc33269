// Learning-rate schedules.
#include "train/schedule.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>

namespace noisynn {
namespace train {

ScheduleKind parse_schedule_kind(const std::string& name) {
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "step") return ScheduleKind::Step;
  if (name == "constant") return ScheduleKind::Constant;
  TORCH_CHECK_VALUE(false, "Expected one of 'cosine', 'step', 'constant' for schedule.name but received '", name, "'");
}

double learning_rate(const ScheduleOptions& s, double base_lr, int64_t t) {
  TORCH_CHECK(s.kind != ScheduleKind::Cosine || s.total_steps > 0,
              "The cosine schedule has no span yet: fit() sets it to the steps of the fit (epochs x batches per "
              "epoch); give schedule.totalSteps to use learningRate() before fit or step() outside it");
  if (s.total_steps > 0) t = std::min(t, s.total_steps - 1);
  if (s.warmup_steps > 0 && t < s.warmup_steps) {
    // Linear warmup from base/warmup to base: the first step already moves the weights.
    return base_lr * static_cast<double>(t + 1) / static_cast<double>(s.warmup_steps);
  }
  switch (s.kind) {
    case ScheduleKind::Constant: return base_lr;
    case ScheduleKind::Step:
      return base_lr * std::pow(s.gamma, static_cast<double>(t / std::max<int64_t>(s.step_size, 1)));
    case ScheduleKind::Cosine: {
      // From the base rate at the first step after warmup to min_lr at the span's last step. A
      // decay of a single step stays at the base rate: a one-step fit must still train.
      const int64_t last = s.total_steps - 1 - s.warmup_steps;
      if (last <= 0) return base_lr;
      const double progress = static_cast<double>(t - s.warmup_steps) / static_cast<double>(last);
      return s.min_lr + 0.5 * (base_lr - s.min_lr) * (1.0 + std::cos(M_PI * progress));
    }
  }
  return base_lr;
}

}  // namespace train
}  // namespace noisynn
