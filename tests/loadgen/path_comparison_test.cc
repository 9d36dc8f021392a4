// compare_paths: per-path summaries, the TTFT p50 difference and ITL p99 change with their
// bootstrap intervals, on samples whose true difference is known.
#include "bench/loadgen/path_comparison.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace ladle::loadgen {
namespace {

// `n` requests per path, interleaved (even index: path 0). Path 1's TTFT is path 0's shape plus
// `ttft_shift_ms`, its gaps path 0's times `itl_scale`; the draws are independent per path.
std::vector<RequestSample> two_paths(int n, double ttft_shift_ms, double itl_scale, std::uint64_t seed = 3) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> ttft(std::log(40.0), 0.3), gap(std::log(6.0), 0.25);
  std::vector<RequestSample> out;
  for (int i = 0; i < 2 * n; ++i) {
    RequestSample s;
    s.index = i;
    s.path = i % 2;
    s.ok = true;
    s.ttft_ms = ttft(rng) + (s.path == 1 ? ttft_shift_ms : 0.0);
    for (int k = 0; k < 31; ++k) s.itl_ms.push_back(gap(rng) * (s.path == 1 ? itl_scale : 1.0));
    s.output_tokens = s.content_events = 32;
    s.e2e_ms = s.ttft_ms + 31 * 6.0;
    out.push_back(s);
  }
  return out;
}

TEST(PathComparisonTest, FindsAKnownShiftAndItsIntervalExcludesZero) {
  auto samples = two_paths(300, 10.0, 1.3);
  PathComparison c = compare_paths(samples, 10.0, 300);
  EXPECT_EQ(c.paths[0].completed, 300);
  EXPECT_EQ(c.paths[1].completed, 300);
  EXPECT_NEAR(c.ttft_p50_diff_ms.value, 10.0, 3.0);
  EXPECT_LT(c.ttft_p50_diff_ms.lo, c.ttft_p50_diff_ms.value);
  EXPECT_GT(c.ttft_p50_diff_ms.hi, c.ttft_p50_diff_ms.value);
  EXPECT_GT(c.ttft_p50_diff_ms.lo, 0.0);
  EXPECT_NEAR(c.itl_p99_change_pct.value, 30.0, 6.0);
  EXPECT_GT(c.itl_p99_change_pct.lo, 0.0);
  EXPECT_LT(c.itl_p99_change_pct.lo, c.itl_p99_change_pct.hi);
  // The per-path summaries are each path's own.
  EXPECT_NEAR(c.paths[1].ttft.p50 - c.paths[0].ttft.p50, c.ttft_p50_diff_ms.value, 1e-9);
  EXPECT_NEAR(100.0 * (c.paths[1].itl.p99 / c.paths[0].itl.p99 - 1.0), c.itl_p99_change_pct.value, 1e-9);
}

TEST(PathComparisonTest, SamePathsGiveAnIntervalAroundZeroThatNarrowsWithMoreRequests) {
  PathComparison few = compare_paths(two_paths(50, 0.0, 1.0), 1.0, 300);
  PathComparison many = compare_paths(two_paths(800, 0.0, 1.0), 1.0, 300);
  for (const PathComparison* c : {&few, &many}) {
    EXPECT_LT(c->ttft_p50_diff_ms.lo, 0.0);
    EXPECT_GT(c->ttft_p50_diff_ms.hi, 0.0);
    EXPECT_LT(c->itl_p99_change_pct.lo, 0.0);
    EXPECT_GT(c->itl_p99_change_pct.hi, 0.0);
  }
  EXPECT_LT(many.ttft_p50_diff_ms.hi - many.ttft_p50_diff_ms.lo, 0.5 * (few.ttft_p50_diff_ms.hi - few.ttft_p50_diff_ms.lo));
}

// TTFT spread by queueing (tens of ms) hides a 0.3 ms cost in the p50 difference; the time outside
// the server (client TTFT − the server's own) shows it with a tight interval.
TEST(PathComparisonTest, TimeOutsideTheServerSeparatesASmallCostFromQueueing) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> queueing(0, 200), jitter(0, 0.05);
  std::vector<RequestSample> samples;
  for (int i = 0; i < 400; ++i) {
    RequestSample s;
    s.path = i % 2;
    s.ok = true;
    s.server_ttft_ms = 10 + queueing(rng);
    s.ttft_ms = s.server_ttft_ms + 0.2 + jitter(rng) + (s.path == 1 ? 0.3 : 0.0);
    s.itl_ms = {5, 6, 7};
    s.output_tokens = s.content_events = 4;
    samples.push_back(s);
  }
  samples.push_back(RequestSample{});  // failed, no report: not counted
  PathComparison c = compare_paths(samples, 1.0, 300);
  EXPECT_EQ(c.outside_count[0], 200);
  EXPECT_EQ(c.outside_count[1], 200);
  EXPECT_NEAR(c.outside_p50_ms[0], 0.225, 0.01);
  EXPECT_NEAR(c.outside_p50_diff_ms.value, 0.3, 0.01);
  EXPECT_GT(c.outside_p50_diff_ms.lo, 0.27);
  EXPECT_LT(c.outside_p50_diff_ms.hi, 0.33);
  EXPECT_GT(c.ttft_p50_diff_ms.hi - c.ttft_p50_diff_ms.lo, 10.0);  // the TTFT interval is far wider
  EXPECT_NE(format_comparison(c, "a", "b").find("outside the server"), std::string::npos);
  // Without server reports the part is absent.
  for (auto& s : samples) s.server_ttft_ms = -1;
  PathComparison none = compare_paths(samples, 1.0, 50);
  EXPECT_EQ(none.outside_count[1], 0);
  EXPECT_EQ(none.outside_p50_diff_ms.value, 0.0);
  EXPECT_EQ(format_comparison(none, "a", "b").find("outside the server"), std::string::npos);
}

TEST(PathComparisonTest, FailedRequestsAreCountedButNotCompared) {
  auto samples = two_paths(100, 0.0, 1.0);
  for (int i = 0; i < 10; ++i) {
    RequestSample bad;
    bad.path = 1;
    bad.ok = false;
    bad.ttft_ms = 1e6;  // would move the median if it were used
    bad.itl_ms = {1e6};
    samples.push_back(bad);
  }
  PathComparison with_failures = compare_paths(samples, 1.0, 200);
  PathComparison without = compare_paths(two_paths(100, 0.0, 1.0), 1.0, 200);
  EXPECT_EQ(with_failures.paths[1].failed, 10);
  EXPECT_EQ(with_failures.paths[1].completed, 100);
  EXPECT_DOUBLE_EQ(with_failures.ttft_p50_diff_ms.value, without.ttft_p50_diff_ms.value);
  EXPECT_DOUBLE_EQ(with_failures.itl_p99_change_pct.value, without.itl_p99_change_pct.value);
}

TEST(PathComparisonTest, SameSeedSameIntervalsAndEmptyPathGivesZeros) {
  auto samples = two_paths(60, 2.0, 1.1);
  PathComparison a = compare_paths(samples, 1.0, 300, 9), b = compare_paths(samples, 1.0, 300, 9);
  EXPECT_EQ(a.ttft_p50_diff_ms.lo, b.ttft_p50_diff_ms.lo);
  EXPECT_EQ(a.itl_p99_change_pct.hi, b.itl_p99_change_pct.hi);
  std::vector<RequestSample> one_path;
  for (const auto& s : samples)
    if (s.path == 0) one_path.push_back(s);
  PathComparison c = compare_paths(one_path, 1.0, 300);
  EXPECT_EQ(c.paths[0].completed, 60);
  EXPECT_EQ(c.paths[1].completed, 0);
  EXPECT_EQ(c.ttft_p50_diff_ms.value, 0.0);
  EXPECT_EQ(c.itl_p99_change_pct.hi, 0.0);
  std::string text = format_comparison(a, "http://a", "http://b");
  EXPECT_NE(text.find("path 1 http://b"), std::string::npos);
  EXPECT_NE(text.find("95% CI"), std::string::npos);
  auto j = comparison_to_json(a);
  EXPECT_DOUBLE_EQ(j["ttft_p50_diff_ms"]["value"].get<double>(), a.ttft_p50_diff_ms.value);
  EXPECT_EQ(j["paths"].size(), 2u);
}

}  // namespace
}  // namespace ladle::loadgen
