#include "scheduler/step_cost_model.h"

#include <algorithm>
#include <cmath>

namespace ladle::scheduler {

StepCostModel::StepCostModel(double decay) : decay_(decay) {}

void StepCostModel::observe(int tokens, int sampled_rows, double seconds) {
  if (tokens < 1 || sampled_rows < 0 || sampled_rows > tokens || !std::isfinite(seconds) || seconds <= 0) return;
  const double t = tokens, r = sampled_rows, y = seconds;
  if (num_observations_ >= kMinSteps) {
    const double e = y - (fixed_ + per_token_ * t + per_row_ * r);
    residual2_ = residual2_ * decay_ + e * e;
    residual_w_ = residual_w_ * decay_ + 1;
  }
  w_ = w_ * decay_ + 1;
  t_ = t_ * decay_ + t;
  r_ = r_ * decay_ + r;
  y_ = y_ * decay_ + y;
  tt_ = tt_ * decay_ + t * t;
  tr_ = tr_ * decay_ + t * r;
  rr_ = rr_ * decay_ + r * r;
  ty_ = ty_ * decay_ + t * y;
  ry_ = ry_ * decay_ + r * y;
  ++num_observations_;
  refit();
}

// NOTE(step_cost_model): two slopes, because a sampled row costs more than a token: it also runs
// the classifier (32000 × 288 on the 15M shape, more than the rest of the model's ~6M weights per
// token) and the sampler. With one slope fitted mostly on large prompt chunks, the fit read
// fixed 3.8 ms + 0.095 ms a token on 15M (loaded), so 9 batch decode rows beside 8 streams were
// predicted to lengthen the step by 20 %; they lengthened it by 60 % (3.2 → 5.1 ms), and the
// batch step share missed its goal (BENCHMARKS.md, issue 19). Fitted with the row term over a
// run of 8 interactive streams alone on 15M (loaded): 4.45 ms + 0.26 ms a token + 0.53 ms a
// sampled row, so a decode row costs three prompt tokens.
//
// A steady load runs steps of nearly one shape (8 streams decoding: 8 tokens, 8 sampled rows, over
// and over), which says nothing about the slopes, and pure decode steps (tokens = rows) cannot tell
// a token's cost from a row's. So:
// - both slopes are refitted while each regressor spreads, beyond what the other explains, by more
//   than 10 % of its mean (the residual variance of one regressed on the other);
// - otherwise the row cost is kept and the token slope is refitted from the times less the rows'
//   cost while the token counts spread by more than 10 % of their mean (pure decode steps of
//   varying size land here: their combined slope less the kept row cost);
// - otherwise both are kept and only the fixed part follows the measured times (so a machine that
//   slows down is still seen).
// Before any spread was seen, the cost is taken as proportional to tokens (fixed part 0, no row
// cost), which overestimates small steps: the budget errs on the safe side. Until rows and tokens
// have been told apart the row cost is 0: the one-slope model of before.
void StepCostModel::refit() {
  const double mt = t_ / w_, mr = r_ / w_, my = y_ / w_;
  const double ctt = tt_ / w_ - mt * mt, crr = rr_ / w_ - mr * mr, ctr = tr_ / w_ - mt * mr;
  const double cty = ty_ / w_ - mt * my, cry = ry_ / w_ - mr * my;
  const double det = ctt * crr - ctr * ctr;
  auto spreads = [](double variance, double mean) { return variance > (0.1 * mean) * (0.1 * mean); };
  bool fitted = false;
  if (spreads(ctt, mt) && spreads(crr, mr) && spreads(det / crr, mt) && spreads(det / ctt, mr)) {
    const double a = (crr * cty - ctr * cry) / det, b = (ctt * cry - ctr * cty) / det;
    if (a > 0 && b >= 0) {
      per_token_ = a;
      per_row_ = b;
      have_slope_ = fitted = true;
    }
  }
  if (!fitted && spreads(ctt, mt)) {
    const double a = (cty - per_row_ * ctr) / ctt;  // slope of (seconds - per_row × rows) on tokens
    if (a > 0) {
      per_token_ = a;
      have_slope_ = true;
    }
  }
  if (!have_slope_) per_token_ = (my - per_row_ * mr) / mt;
  fixed_ = std::max(0.0, my - per_token_ * mt - per_row_ * mr);
}

std::optional<double> StepCostModel::predict(int tokens, int sampled_rows) const {
  if (num_observations_ < kMinSteps) return std::nullopt;
  return fixed_ + per_token_ * tokens + per_row_ * sampled_rows;
}

double StepCostModel::scatter_seconds() const {
  return residual_w_ > 0 ? std::sqrt(residual2_ / residual_w_) : 0;
}

// NOTE(step_cost_model): the margin. A step's duration scatters around the fit (the attention
// part grows with context, other processes take the cores); sizing the step to the fit's mean
// would put about half of the steps over the target. Two standard deviations of the recent scatter
// are kept free, so on a quiet machine the budget sits close to the fit and on a noisy one it
// shrinks rather than miss the target.
std::optional<int> StepCostModel::tokens_within(double seconds, int sampled_rows) const {
  if (num_observations_ < kMinSteps) return std::nullopt;
  const double room = seconds - 2 * scatter_seconds() - fixed_ - per_row_ * sampled_rows;
  if (room <= 0) return 0;
  const double n = room / per_token_;
  return n >= 1e9 ? 1'000'000'000 : int(n);
}

}  // namespace ladle::scheduler
