#include "bench/loadgen/arrivals.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace ladle::loadgen {
namespace {

struct Moments {
  double mean, cv;
};

Moments gaps(double rate, double burstiness, int n = 200000) {
  ArrivalProcess a(rate, burstiness, 42);
  double sum = 0, sq = 0;
  for (int i = 0; i < n; ++i) {
    double g = a.next_gap_s();
    EXPECT_GE(g, 0);
    sum += g;
    sq += g * g;
  }
  double mean = sum / n;
  double var = sq / n - mean * mean;
  return {mean, std::sqrt(var) / mean};
}

TEST(ArrivalsTest, PoissonHasExponentialGaps) {
  Moments m = gaps(4.0, 1.0);
  EXPECT_NEAR(m.mean, 0.25, 0.25 * 0.01);
  EXPECT_NEAR(m.cv, 1.0, 0.02);  // exponential: std == mean
}

TEST(ArrivalsTest, BurstinessKeepsTheRateButChangesTheSpread) {
  // Gamma(k): cv = 1/sqrt(k). Below 1 is burstier, above 1 more regular.
  Moments bursty = gaps(10.0, 0.25);
  EXPECT_NEAR(bursty.mean, 0.1, 0.1 * 0.02);
  EXPECT_NEAR(bursty.cv, 2.0, 0.08);
  Moments regular = gaps(10.0, 4.0);
  EXPECT_NEAR(regular.mean, 0.1, 0.1 * 0.01);
  EXPECT_NEAR(regular.cv, 0.5, 0.02);
}

TEST(ArrivalsTest, InfiniteRateSendsAtOnce) {
  ArrivalProcess a(std::numeric_limits<double>::infinity(), 1.0, 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_gap_s(), 0.0);
}

TEST(ArrivalsTest, SameSeedSameSchedule) {
  ArrivalProcess a(3.0, 1.0, 9), b(3.0, 1.0, 9), c(3.0, 1.0, 10);
  double ga = a.next_gap_s();
  EXPECT_EQ(ga, b.next_gap_s());
  EXPECT_NE(ga, c.next_gap_s());
}

}  // namespace
}  // namespace ladle::loadgen
