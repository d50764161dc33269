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

double learning_rate(const ScheduleOptions& s, double base_lr, int64_t step) {
  if (s.warmup_steps > 0 && step < s.warmup_steps) {
    // Linear warmup from base/warmup to base: the first step already moves the weights.
    return base_lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  }
  const int64_t t = step - s.warmup_steps;
  switch (s.kind) {
    case ScheduleKind::Constant: return base_lr;
    case ScheduleKind::Step:
      return base_lr * std::pow(s.gamma, static_cast<double>(t / std::max<int64_t>(s.step_size, 1)));
    case ScheduleKind::Cosine: {
      const int64_t span = s.total_steps - s.warmup_steps;
      if (span <= 0) return base_lr;
      const double progress = std::min(1.0, static_cast<double>(t) / static_cast<double>(span));
      return s.min_lr + 0.5 * (base_lr - s.min_lr) * (1.0 + std::cos(M_PI * progress));
    }
  }
  return base_lr;
}

}  // namespace train
}  // namespace noisynn
