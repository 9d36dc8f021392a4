#include "scheduler/step_cost_model.h"

#include <algorithm>
#include <cmath>

namespace ladle::scheduler {

StepCostModel::StepCostModel(double decay) : decay_(decay) {}

void StepCostModel::observe(int tokens, double seconds) {
  if (tokens < 1 || !std::isfinite(seconds) || seconds <= 0) return;
  const double x = tokens, y = seconds;
  if (num_observations_ >= kMinSteps) {
    const double r = y - (fixed_ + per_token_ * x);
    residual2_ = residual2_ * decay_ + r * r;
    residual_w_ = residual_w_ * decay_ + 1;
  }
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

double StepCostModel::scatter_seconds() const {
  return residual_w_ > 0 ? std::sqrt(residual2_ / residual_w_) : 0;
}

// NOTE(step_cost_model): the margin. A step's duration scatters around the fit (the attention
// part grows with context, sampling rows differ, other processes take the cores); sizing the step
// to the fit's mean would put about half of the steps over the target. Two standard deviations of
// the recent scatter are kept free, so on a quiet machine the budget sits close to the fit and on
// a noisy one it shrinks rather than miss the target.
std::optional<int> StepCostModel::tokens_within(double seconds) const {
  if (num_observations_ < kMinSteps) return std::nullopt;
  const double room = seconds - 2 * scatter_seconds() - fixed_;
  if (room <= 0) return 0;
  const double n = room / per_token_;
  return n >= 1e9 ? 1'000'000'000 : int(n);
}

}  // namespace ladle::scheduler
