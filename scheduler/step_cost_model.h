// StepCostModel: what a step costs on this machine with this model, learned online. Each finished
// step is one observation (tokens computed, how many of them were sampled rows, seconds taken);
// the model fits
//   seconds ≈ fixed + per_token × tokens + per_sampled_row × sampled_rows
// by least squares over recent steps (exponentially weighted, so it follows a machine whose load
// changes), tracks how far measured steps stray from the fit, and answers the inverse question the
// scheduler asks: how many tokens fit in a step of at most S seconds, with room for that spread.
// A sampled row is a token whose logits are computed and sampled: every decode token, and the last
// token of a prompt; it also pays the classifier (vocab × dim) and the sampler. It drives
// --itl-target-ms and --batch-step-share (scheduler.h).
//
// Owner: Scheduler. Thread: the engine thread only. Deterministic: no clock inside, the caller
// measures, so tests feed it fabricated observations.
#pragma once

#include <optional>

namespace ladle::scheduler {

class StepCostModel {
 public:
  // `decay`: the weight an observation keeps per later observation (0.98: the last ~50 steps
  // carry most of the fit).
  explicit StepCostModel(double decay = 0.98);

  // One finished step that computed `tokens` (>= 1) tokens, `sampled_rows` (0..tokens) of them
  // sampled, in `seconds`. Ignores tokens < 1, sampled_rows outside 0..tokens and durations that
  // are not finite and positive.
  void observe(int tokens, int sampled_rows, double seconds);

  // Seconds a step of `tokens` tokens, `sampled_rows` of them sampled, is expected to take;
  // nullopt until the fit is ready (kMinSteps observations).
  std::optional<double> predict(int tokens, int sampled_rows) const;

  // The most tokens a step with `sampled_rows` sampled rows may hold and still be expected to take
  // at most `seconds` with two standard deviations of the recent steps' scatter around the fit to
  // spare: 0 when even the fixed cost and those rows (plus that margin) exceed it; nullopt until
  // the fit is ready.
  std::optional<int> tokens_within(double seconds, int sampled_rows) const;

  // Standard deviation of recent steps' durations around the fit (0 until the fit is ready).
  double scatter_seconds() const;
  double fixed_seconds() const { return fixed_; }
  double seconds_per_token() const { return per_token_; }
  // What a sampled row costs beyond its token (0 until steps told it apart from a token).
  double seconds_per_sampled_row() const { return per_row_; }
  int num_observations() const { return num_observations_; }

  static constexpr int kMinSteps = 4;

 private:
  void refit();

  double decay_;
  // Weighted sums over observations (t tokens, r sampled rows, y seconds): Σw, Σw·t, Σw·r, Σw·y,
  // Σw·t², Σw·t·r, Σw·r², Σw·t·y, Σw·r·y.
  double w_ = 0, t_ = 0, r_ = 0, y_ = 0, tt_ = 0, tr_ = 0, rr_ = 0, ty_ = 0, ry_ = 0;
  double fixed_ = 0, per_token_ = 0, per_row_ = 0;
  // Weighted squared residuals of observations made once the fit was ready, and their weight.
  double residual2_ = 0, residual_w_ = 0;
  bool have_slope_ = false;
  int num_observations_ = 0;
};

}  // namespace ladle::scheduler
