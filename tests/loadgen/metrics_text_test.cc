#include "bench/loadgen/metrics_text.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ladle::loadgen {
namespace {

constexpr std::string_view kExposition = R"(# HELP ladle_num_requests_running Requests being computed.
# TYPE ladle_num_requests_running gauge
ladle_num_requests_running 3
ladle_num_requests_waiting 0
ladle_kv_cache_blocks_used 17 1700000000000
# TYPE ladle_requests_finished_total counter
ladle_requests_finished_total{reason="stop"} 10
ladle_requests_finished_total{reason="cancelled"} 4
ladle_requests_finished_total{reason="length",model="a \"quoted\" \\ name"} 2
ladle_ttft_seconds_bucket{le="+Inf"} 16
ladle_ttft_seconds_sum 1.5e-1
weird_value NaN
)";

TEST(MetricsTextTest, ParsesSamplesLabelsAndValues) {
  auto s = parse_metrics_text(kExposition);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s->size(), 9u);
  EXPECT_EQ(metric_value(*s, "ladle_num_requests_running"), 3);
  EXPECT_EQ(metric_value(*s, "ladle_kv_cache_blocks_used"), 17);  // timestamp ignored
  EXPECT_EQ(metric_value(*s, "ladle_requests_finished_total", {{"reason", "cancelled"}}), 4);
  EXPECT_EQ(metric_value(*s, "ladle_requests_finished_total"), 16);  // summed over labels
  EXPECT_EQ(metric_value(*s, "ladle_ttft_seconds_sum"), 0.15);
  EXPECT_EQ(metric_value(*s, "ladle_ttft_seconds_bucket", {{"le", "+Inf"}}), 16);
  EXPECT_EQ((*s)[5].labels.at("model"), "a \"quoted\" \\ name");
  EXPECT_TRUE(std::isnan(*metric_value(*s, "weird_value")));
  EXPECT_FALSE(metric_value(*s, "absent").has_value());
  EXPECT_FALSE(metric_value(*s, "ladle_requests_finished_total", {{"reason", "abort"}}).has_value());
}

TEST(MetricsTextTest, RejectsMalformedLines) {
  EXPECT_FALSE(parse_metrics_text("x{a=\"1\" 3\n").ok());
  EXPECT_FALSE(parse_metrics_text("x three\n").ok());
  EXPECT_FALSE(parse_metrics_text("{a=\"b\"} 1\n").ok());
  EXPECT_TRUE(parse_metrics_text("\n# only comments\n").ok());
}

}  // namespace
}  // namespace ladle::loadgen
