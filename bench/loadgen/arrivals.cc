#include "bench/loadgen/arrivals.h"

#include <cmath>

namespace ladle::loadgen {

ArrivalProcess::ArrivalProcess(double rate_per_s, double burstiness, std::uint64_t seed)
    : infinite_(!(rate_per_s > 0) || std::isinf(rate_per_s)),
      rng_(seed),
      gamma_(burstiness > 0 ? burstiness : 1.0,
             infinite_ ? 1.0 : 1.0 / (rate_per_s * (burstiness > 0 ? burstiness : 1.0))) {}

double ArrivalProcess::next_gap_s() { return infinite_ ? 0.0 : gamma_(rng_); }

}  // namespace ladle::loadgen
