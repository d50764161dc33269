// Learning-rate schedules, stepped per optimizer step: linear warmup, then cosine, step or constant.
#pragma once

#include <cstdint>
#include <string>

namespace noisynn {
namespace train {

enum class ScheduleKind { Cosine, Step, Constant };

// A schedule spans `total_steps` optimizer steps, counted from 0 at the first step of its span
// (the trainer decides where a span starts: at step 0, or at the first step of each fit).
struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::Cosine;
  // Steps 0 .. warmup_steps - 1 rise linearly to the base rate.
  int64_t warmup_steps = 0;
  // The steps of the span; the cosine reaches min_lr at its last one (total_steps - 1). 0: no
  // span yet, which only the cosine needs (learning_rate throws for it).
  int64_t total_steps = 0;
  double min_lr = 0.0;
  // Step: multiply by gamma every step_size steps, counted from step 0 of the span (warmup
  // included, as torch's StepLR counts).
  int64_t step_size = 1000;
  double gamma = 0.1;
};

ScheduleKind parse_schedule_kind(const std::string& name);

// The learning rate for step `t` (0-based) of the schedule's span, given the base rate. Steps
// past the end of the span keep the rate of its last step. Throws c10::Error for a cosine
// without a span.
double learning_rate(const ScheduleOptions& s, double base_lr, int64_t t);

}  // namespace train
}  // namespace noisynn
