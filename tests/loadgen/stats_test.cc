#include "bench/loadgen/stats.h"

#include <gtest/gtest.h>

namespace ladle::loadgen {
namespace {

TEST(StatsTest, PercentileInterpolatesLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};  // sorted 1 2 3 4
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 4);
  EXPECT_NEAR(percentile(v, 90), 3.7, 1e-12);  // numpy.percentile([1,2,3,4], 90)
  EXPECT_NEAR(percentile(v, 99), 3.97, 1e-12);
  EXPECT_DOUBLE_EQ(percentile(std::vector<double>{}, 50), 0);
  EXPECT_DOUBLE_EQ(percentile(std::vector<double>{5}, 99), 5);
}

TEST(StatsTest, DistributionOfOneToHundred) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  Distribution d = distribution_of(v);
  EXPECT_EQ(d.count, 100u);
  EXPECT_DOUBLE_EQ(d.mean, 50.5);
  EXPECT_DOUBLE_EQ(d.p50, 50.5);
  EXPECT_NEAR(d.p99, 99.01, 1e-9);
  EXPECT_DOUBLE_EQ(d.min, 1);
  EXPECT_DOUBLE_EQ(d.max, 100);
  EXPECT_NEAR(d.stddev, 28.866070047722118, 1e-9);
}

TEST(StatsTest, ParseSlo) {
  auto slo = parse_slo("ttft:200,tpot:50.5");
  ASSERT_TRUE(slo.ok());
  EXPECT_EQ(slo->ttft_ms, 200);
  EXPECT_EQ(slo->tpot_ms, 50.5);
  EXPECT_FALSE(slo->e2el_ms.has_value());
  EXPECT_FALSE(parse_slo("ttft=200").ok());
  EXPECT_FALSE(parse_slo("itl:5").ok());
  EXPECT_FALSE(parse_slo("ttft:-1").ok());
  EXPECT_TRUE(parse_slo("e2el:1000").ok());
}

RequestSample sample(bool ok, double ttft, double e2e, int tokens) {
  RequestSample s;
  s.ok = ok;
  s.ttft_ms = ttft;
  s.e2e_ms = e2e;
  s.output_tokens = tokens;
  s.input_words = 10;
  return s;
}

TEST(StatsTest, TpotExcludesFirstToken) {
  EXPECT_DOUBLE_EQ(sample(true, 100, 1090, 100).tpot_ms(), 10.0);
  EXPECT_DOUBLE_EQ(sample(true, 100, 100, 1).tpot_ms(), 0.0);
}

TEST(StatsTest, SummaryAndGoodput) {
  std::vector<RequestSample> v = {
      sample(true, 100, 1090, 100),   // tpot 10: good
      sample(true, 300, 1290, 100),   // ttft too slow
      sample(true, 100, 2080, 100),   // tpot 20: too slow
      sample(false, 0, 0, 0),         // failed
  };
  v[0].itl_ms = {10, 10};
  v[1].itl_ms = {30};
  auto slo = parse_slo("ttft:200,tpot:15");
  ASSERT_TRUE(slo.ok());
  RunSummary s = summarize(v, 2.0, *slo);
  EXPECT_EQ(s.completed, 3);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.good, 1);
  EXPECT_DOUBLE_EQ(s.goodput, 0.5);
  EXPECT_EQ(s.total_output_tokens, 300);
  EXPECT_EQ(s.total_input_tokens, 30);
  EXPECT_DOUBLE_EQ(s.output_throughput, 150);
  EXPECT_DOUBLE_EQ(s.request_throughput, 1.5);
  EXPECT_EQ(s.itl.count, 3u);
  EXPECT_NEAR(s.itl.mean, 50.0 / 3, 1e-12);
  EXPECT_NEAR(s.ttft.mean, 500.0 / 3, 1e-12);
}

TEST(StatsTest, MergedTokensAreFlagged) {
  RequestSample s = sample(true, 1, 2, 10);
  s.usage_reported = true;
  s.content_events = 5;
  EXPECT_TRUE(s.merged_tokens());
  s.content_events = 10;
  EXPECT_FALSE(s.merged_tokens());
}

}  // namespace
}  // namespace ladle::loadgen
