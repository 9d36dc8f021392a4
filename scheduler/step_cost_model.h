// StepCostModel: what a step costs on this machine with this model, learned online. Each finished
// step is one observation (tokens computed, seconds taken); the model fits
//   seconds ≈ fixed + per_token × tokens
// by least squares over recent steps (exponentially weighted, so it follows a machine whose load
// changes), tracks how far measured steps stray from the fit, and answers the inverse question the
// scheduler asks: how many tokens fit in a step of at most S seconds, with room for that spread.
// It drives --itl-target-ms (scheduler.h).
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

  // One finished step that computed `tokens` (>= 1) tokens in `seconds`. Ignores tokens < 1 and
  // durations that are not finite and positive.
  void observe(int tokens, double seconds);

  // Seconds a step of `tokens` is expected to take; nullopt until the fit is ready (kMinSteps
  // observations).
  std::optional<double> predict(int tokens) const;

  // The most tokens a step may hold and still be expected to take at most `seconds` with two
  // standard deviations of the recent steps' scatter around the fit to spare: 0 when even the
  // fixed cost (plus that margin) exceeds it; nullopt until the fit is ready.
  std::optional<int> tokens_within(double seconds) const;

  // Standard deviation of recent steps' durations around the fit (0 until the fit is ready).
  double scatter_seconds() const;
  double fixed_seconds() const { return fixed_; }
  double seconds_per_token() const { return per_token_; }
  int num_observations() const { return num_observations_; }

  static constexpr int kMinSteps = 4;

 private:
  void refit();

  double decay_;
  // Weighted sums over observations: Σw, Σw·x, Σw·y, Σw·x², Σw·x·y (x tokens, y seconds).
  double w_ = 0, x_ = 0, y_ = 0, xx_ = 0, xy_ = 0;
  double fixed_ = 0, per_token_ = 0;
  // Weighted squared residuals of observations made once the fit was ready, and their weight.
  double residual2_ = 0, residual_w_ = 0;
  bool have_slope_ = false;
  int num_observations_ = 0;
};

}  // namespace ladle::scheduler
