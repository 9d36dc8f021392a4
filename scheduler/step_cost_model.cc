#include "scheduler/step_cost_model.h"

#include <algorithm>
#include <cmath>

namespace ladle::scheduler {

StepCostModel::StepCostModel(double decay) : decay_(decay) {}

void StepCostModel::observe(int tokens, double seconds) {
  if (tokens < 1 || !std::isfinite(seconds) || seconds <= 0) return;
  const double x = tokens, y = seconds;
  w_ = w_ * decay_ + 1;
  x_ = x_ * decay_ + x;
  y_ = y_ * decay_ + y;
  xx_ = xx_ * decay_ + x * x;
  xy_ = xy_ * decay_ + x * y;
  ++num_observations_;
  refit();
}

// NOTE(step_cost_model): a steady load runs steps of nearly one size (8 streams decoding: 8 tokens
// a step, over and over), which says nothing about the slope. The slope is refitted only while the
// recent steps' sizes spread by more than 10 % of their mean; otherwise the last slope is kept and
// only the fixed part follows the measured times (so a machine that slows down is still seen).
// Before any spread was seen, the cost is taken as proportional to tokens (fixed part 0), which
// overestimates small steps: the budget errs on the safe side.
void StepCostModel::refit() {
  const double mx = x_ / w_, my = y_ / w_;
  const double var = xx_ / w_ - mx * mx;
  if (var > (0.1 * mx) * (0.1 * mx)) {
    const double slope = (xy_ / w_ - mx * my) / var;
    if (slope > 0) {
      per_token_ = slope;
      have_slope_ = true;
    }
  }
  if (!have_slope_) per_token_ = my / mx;
  fixed_ = std::max(0.0, my - per_token_ * mx);
}

std::optional<double> StepCostModel::predict(int tokens) const {
  if (num_observations_ < kMinSteps) return std::nullopt;
  return fixed_ + per_token_ * tokens;
}

std::optional<int> StepCostModel::tokens_within(double seconds) const {
  if (num_observations_ < kMinSteps) return std::nullopt;
  if (seconds <= fixed_) return 0;
  const double n = (seconds - fixed_) / per_token_;
  return n >= 1e9 ? 1'000'000'000 : int(n);
}

}  // namespace ladle::scheduler
