// ArrivalProcess: inter-arrival gaps of the open-loop workload, as in `vllm bench serve`.
//
// Single-threaded value type. Gaps are Gamma(shape = burstiness, scale = 1/(rate·burstiness)),
// so the mean rate is `rate` for any burstiness; burstiness 1 is a Poisson process, < 1 is
// burstier, > 1 more uniform. An infinite rate sends everything at once (gap 0).
#pragma once

#include <cstdint>
#include <random>

namespace ladle::loadgen {

class ArrivalProcess {
 public:
  ArrivalProcess(double rate_per_s, double burstiness, std::uint64_t seed);

  // Seconds until the next request.
  double next_gap_s();

 private:
  bool infinite_;
  std::mt19937_64 rng_;
  std::gamma_distribution<double> gamma_;
};

}  // namespace ladle::loadgen
