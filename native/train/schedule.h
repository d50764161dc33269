// Learning-rate schedules, stepped per optimizer step: linear warmup, then cosine, step or constant.
#pragma once

#include <cstdint>
#include <string>

namespace noisynn {
namespace train {

enum class ScheduleKind { Cosine, Step, Constant };

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::Cosine;
  int64_t warmup_steps = 0;
  // Cosine decays to min_lr at total_steps (the trainer sets it from epochs x batches).
  int64_t total_steps = 0;
  double min_lr = 0.0;
  // Step: multiply by gamma every step_size steps after warmup.
  int64_t step_size = 1000;
  double gamma = 0.1;
};

ScheduleKind parse_schedule_kind(const std::string& name);

// The learning rate for optimizer step `step` (0-based) given the base rate.
double learning_rate(const ScheduleOptions& s, double base_lr, int64_t step);

}  // namespace train
}  // namespace noisynn
