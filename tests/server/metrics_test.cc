// Metrics: counting rules and exposition content, driven through the EngineObserver interface
// exactly as the engine's step thread drives it.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace ladle::server {
namespace {

using scheduler::EngineGauges;
using scheduler::FinishReason;
using scheduler::RequestStats;

// The value of the sample whose name-with-labels is exactly `series` (e.g.
// `ladle_requests_finished_total{reason="stop"}`), or nullopt when absent.
std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos || line.substr(0, space) != series) continue;
    return std::strtod(line.c_str() + space + 1, nullptr);
  }
  return std::nullopt;
}

double value(const Metrics& m, const std::string& series) {
  auto v = sample(m.serialize(), series);
  EXPECT_TRUE(v.has_value()) << "missing series " << series;
  return v.value_or(-1);
}

// The `le` bounds of histogram `name` (without +Inf), in exposition order.
std::vector<double> bucket_bounds(const std::string& text, const std::string& name) {
  std::vector<double> bounds;
  std::istringstream in(text);
  std::string line, prefix = name + "_bucket{le=\"";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::string le = line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size());
    if (le != "+Inf") bounds.push_back(std::strtod(le.c_str(), nullptr));
  }
  return bounds;
}

// Drives one request the way the engine does: first token, n−1 next tokens, finish.
void run_request(Metrics& m, RequestId id, int n_tokens, FinishReason reason, int prompt = 5) {
  if (n_tokens > 0) m.on_first_token(id, 0.004);
  for (int i = 1; i < n_tokens; ++i) m.on_next_token(id, 0.002);
  RequestStats stats;
  stats.id = id;
  stats.reason = reason;
  stats.prompt_tokens = prompt;
  stats.generation_tokens = n_tokens;
  stats.queue_time = 0.001;
  stats.prefill_time = n_tokens > 0 ? 0.003 : 0;
  stats.decode_time = n_tokens > 0 ? 0.002 * (n_tokens - 1) : 0;
  stats.e2e_latency = 0.004 + stats.decode_time;
  stats.got_first_token = n_tokens > 0;
  m.on_request_finished(stats);
}

TEST(MetricsTest, EverySeriesExistsAtZeroFromTheStart) {
  Metrics m;
  const std::string text = m.serialize();
  for (const char* reason : {"stop", "length", "cancelled", "error"})
    EXPECT_EQ(sample(text, std::string("ladle_requests_finished_total{reason=\"") + reason + "\"}"), 0.0)
        << reason;
  for (auto reason : kRejectReasons)
    EXPECT_EQ(sample(text, "ladle_requests_rejected_total{reason=\"" + std::string(reason) + "\"}"), 0.0)
        << reason;
  for (const char* counter :
       {"ladle_prompt_tokens_total", "ladle_generation_tokens_total", "ladle_prefix_cache_queries_total",
        "ladle_prefix_cache_hits_total", "ladle_num_preemptions_total", "ladle_client_disconnects_total"})
    EXPECT_EQ(sample(text, counter), 0.0) << counter;
  for (const char* gauge :
       {"ladle_num_requests_running", "ladle_num_requests_waiting", "ladle_kv_cache_blocks_used",
        "ladle_kv_cache_blocks_cached", "ladle_kv_cache_blocks_capacity", "ladle_kv_cache_usage_ratio"})
    EXPECT_EQ(sample(text, gauge), 0.0) << gauge;
  for (const char* hist :
       {"ladle_time_to_first_token_seconds", "ladle_inter_token_latency_seconds",
        "ladle_e2e_request_latency_seconds", "ladle_request_queue_time_seconds",
        "ladle_request_prefill_time_seconds", "ladle_request_decode_time_seconds",
        "ladle_request_prompt_tokens", "ladle_request_generation_tokens", "ladle_step_duration_seconds",
        "ladle_decode_step_duration_seconds", "ladle_step_batch_tokens"}) {
    EXPECT_EQ(sample(text, std::string(hist) + "_count"), 0.0) << hist;
    EXPECT_EQ(sample(text, std::string(hist) + "_sum"), 0.0) << hist;
  }
  EXPECT_EQ(sample(text, std::string("ladle_build_info{version=\"") + LADLE_VERSION + "\"}"), 1.0);
  EXPECT_NE(text.find("# TYPE ladle_time_to_first_token_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("# TYPE ladle_generation_tokens_total counter"), std::string::npos);
}

TEST(MetricsTest, LatencyHistogramsHaveAtLeastFourBucketsBelowTenMilliseconds) {
  Metrics m;
  const std::string text = m.serialize();
  for (const char* hist :
       {"ladle_time_to_first_token_seconds", "ladle_inter_token_latency_seconds",
        "ladle_e2e_request_latency_seconds", "ladle_request_queue_time_seconds",
        "ladle_request_prefill_time_seconds", "ladle_request_decode_time_seconds",
        "ladle_step_duration_seconds", "ladle_decode_step_duration_seconds"}) {
    auto bounds = bucket_bounds(text, hist);
    int below_10ms = 0;
    for (double b : bounds) below_10ms += b < 0.01;
    EXPECT_GE(below_10ms, 4) << hist;
    for (std::size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]) << hist;
  }
}

// One request of N tokens: TTFT +1, ITL +N−1, generation tokens +N, for every way it can end.
struct CountingCase {
  FinishReason reason;
  int n_tokens;
};

class CountingRulesTest : public ::testing::TestWithParam<CountingCase> {};

TEST_P(CountingRulesTest, OneRequestOfNTokens) {
  const auto [reason, n] = GetParam();
  Metrics m;
  run_request(m, 7, n, reason);
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, "ladle_time_to_first_token_seconds_count"), n > 0 ? 1.0 : 0.0);
  EXPECT_EQ(sample(text, "ladle_inter_token_latency_seconds_count"), n > 0 ? n - 1.0 : 0.0);
  EXPECT_EQ(sample(text, "ladle_generation_tokens_total"), static_cast<double>(n));
  const std::string label = scheduler::to_string(reason);
  EXPECT_EQ(sample(text, "ladle_requests_finished_total{reason=\"" + label + "\"}"), 1.0);
  EXPECT_EQ(sample(text, "ladle_e2e_request_latency_seconds_count"), 1.0);
  EXPECT_EQ(sample(text, "ladle_request_queue_time_seconds_count"), 1.0);
  EXPECT_EQ(sample(text, "ladle_request_generation_tokens_count"), 1.0);
  EXPECT_EQ(sample(text, "ladle_request_generation_tokens_sum"), static_cast<double>(n));
  EXPECT_EQ(sample(text, "ladle_request_prompt_tokens_sum"), 5.0);
  // Prefill/decode phases exist only for requests that produced a token.
  EXPECT_EQ(sample(text, "ladle_request_prefill_time_seconds_count"), n > 0 ? 1.0 : 0.0);
  EXPECT_EQ(sample(text, "ladle_request_decode_time_seconds_count"), n > 0 ? 1.0 : 0.0);
  // The TTFT of 4 ms falls in the 5 ms bucket but not the 2.5 ms one.
  EXPECT_EQ(sample(text, "ladle_time_to_first_token_seconds_bucket{le=\"0.0025\"}"), 0.0);
  EXPECT_EQ(sample(text, "ladle_time_to_first_token_seconds_bucket{le=\"0.005\"}"), n > 0 ? 1.0 : 0.0);
}

INSTANTIATE_TEST_SUITE_P(
    AllEndings, CountingRulesTest,
    ::testing::Values(CountingCase{FinishReason::kStop, 9}, CountingCase{FinishReason::kStop, 1},
                      CountingCase{FinishReason::kLength, 16},
                      CountingCase{FinishReason::kCancelled, 3},   // client left mid-stream
                      CountingCase{FinishReason::kCancelled, 0},   // cancelled while waiting
                      CountingCase{FinishReason::kError, 0}));

TEST(MetricsTest, ManyRequestsSumExactly) {
  Metrics m;
  int tokens = 0;
  for (int i = 0; i < 10; ++i) {
    run_request(m, i, i, i % 2 ? FinishReason::kLength : FinishReason::kStop);
    tokens += i;
  }
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, "ladle_time_to_first_token_seconds_count"), 9.0);  // request 0 had none
  EXPECT_EQ(sample(text, "ladle_inter_token_latency_seconds_count"), tokens - 9.0);
  EXPECT_EQ(sample(text, "ladle_generation_tokens_total"), static_cast<double>(tokens));
  EXPECT_EQ(sample(text, "ladle_requests_finished_total{reason=\"stop\"}"), 5.0);
  EXPECT_EQ(sample(text, "ladle_requests_finished_total{reason=\"length\"}"), 5.0);
}

TEST(MetricsTest, EngineRejectionsMapToReasons) {
  Metrics m;
  m.on_request_rejected(ErrorCode::kInvalidArgument);
  m.on_request_rejected(ErrorCode::kResourceExhausted);
  m.on_request_rejected(ErrorCode::kResourceExhausted);
  m.on_request_rejected(ErrorCode::kUnavailable);
  m.on_request_rejected(ErrorCode::kInternal);
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, "ladle_requests_rejected_total{reason=\"too_long\"}"), 1.0);
  EXPECT_EQ(sample(text, "ladle_requests_rejected_total{reason=\"overloaded\"}"), 2.0);
  EXPECT_EQ(sample(text, "ladle_requests_rejected_total{reason=\"unavailable\"}"), 1.0);
  EXPECT_EQ(sample(text, "ladle_requests_rejected_total{reason=\"invalid\"}"), 1.0);
  EXPECT_EQ(sample(text, "ladle_requests_rejected_total{reason=\"body_too_large\"}"), 0.0);
}

TEST(MetricsTest, HttpRejectionsAndDisconnects) {
  Metrics m;
  m.on_http_rejected("body_too_large");
  m.on_http_rejected("invalid");
  m.on_http_rejected("no-such-reason");  // folded into "invalid": labels stay a closed set
  m.on_client_disconnect();
  m.on_client_disconnect();
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, "ladle_requests_rejected_total{reason=\"body_too_large\"}"), 1.0);
  EXPECT_EQ(sample(text, "ladle_requests_rejected_total{reason=\"invalid\"}"), 2.0);
  EXPECT_EQ(sample(text, "ladle_client_disconnects_total"), 2.0);
  EXPECT_EQ(text.find("no-such-reason"), std::string::npos);
}

TEST(MetricsTest, InternalErrorsAreCountedByPlace) {
  Metrics m;
  for (std::string_view where : kInternalErrorPlaces)
    EXPECT_EQ(sample(m.serialize(), "ladle_internal_errors_total{where=\"" + std::string(where) + "\"}"), 0.0);
  m.on_internal_error("io_thread");
  m.on_internal_error("io_thread");
  m.on_step_failed("boom");  // the engine's observer call
  m.on_internal_error("batch_thread");
  m.on_internal_error("elsewhere");  // folded into "handler"
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, "ladle_internal_errors_total{where=\"io_thread\"}"), 2.0);
  EXPECT_EQ(sample(text, "ladle_internal_errors_total{where=\"step_thread\"}"), 1.0);
  EXPECT_EQ(sample(text, "ladle_internal_errors_total{where=\"batch_thread\"}"), 1.0);
  EXPECT_EQ(sample(text, "ladle_internal_errors_total{where=\"handler\"}"), 1.0);
  EXPECT_EQ(text.find("elsewhere"), std::string::npos);
}

TEST(MetricsTest, GaugesReflectTheLastReportExactly) {
  Metrics m;
  m.on_gauges(EngineGauges{.num_running = 3, .num_waiting = 2, .kv_blocks_total = 64,
                           .kv_blocks_used = 16, .kv_blocks_cached = 5});
  EXPECT_EQ(value(m, "ladle_num_requests_running"), 3.0);
  EXPECT_EQ(value(m, "ladle_num_requests_waiting"), 2.0);
  EXPECT_EQ(value(m, "ladle_kv_cache_blocks_used"), 16.0);
  EXPECT_EQ(value(m, "ladle_kv_cache_blocks_cached"), 5.0);
  EXPECT_EQ(value(m, "ladle_kv_cache_blocks_capacity"), 64.0);
  EXPECT_EQ(value(m, "ladle_kv_cache_usage_ratio"), 0.25);
  // The engine goes idle: everything but the cached prefix and the total returns to 0.
  m.on_gauges(EngineGauges{.kv_blocks_total = 64, .kv_blocks_cached = 21});
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, "ladle_num_requests_running"), 0.0);
  EXPECT_EQ(sample(text, "ladle_num_requests_waiting"), 0.0);
  EXPECT_EQ(sample(text, "ladle_kv_cache_blocks_used"), 0.0);
  EXPECT_EQ(sample(text, "ladle_kv_cache_blocks_cached"), 21.0);
  EXPECT_EQ(sample(text, "ladle_kv_cache_usage_ratio"), 0.0);
}

// Batch-class requests: their tokens are counted (in total and by class), they are never
// observed into the latency or per-request histograms, and the gauges split by class.
TEST(MetricsTest, BatchRequestsCountTokensButStayOutOfTheHistograms) {
  Metrics m;
  for (const char* c : {"interactive", "batch"}) {
    EXPECT_EQ(value(m, std::string("ladle_generation_tokens_by_class_total{class=\"") + c + "\"}"), 0.0);
    EXPECT_EQ(value(m, std::string("ladle_requests_running{class=\"") + c + "\"}"), 0.0);
    EXPECT_EQ(value(m, std::string("ladle_requests_waiting{class=\"") + c + "\"}"), 0.0);
  }
  run_request(m, 1, 4, FinishReason::kStop);  // interactive
  for (int i = 0; i < 5; ++i) m.on_batch_token(2);
  RequestStats batch;
  batch.id = 2;
  batch.reason = FinishReason::kLength;
  batch.generation_tokens = 5;
  batch.e2e_latency = batch.queue_time = 30;
  batch.got_first_token = true;
  batch.request_class = scheduler::RequestClass::kBatch;
  m.on_request_finished(batch);
  EXPECT_EQ(value(m, "ladle_generation_tokens_total"), 9.0);
  EXPECT_EQ(value(m, "ladle_generation_tokens_by_class_total{class=\"interactive\"}"), 4.0);
  EXPECT_EQ(value(m, "ladle_generation_tokens_by_class_total{class=\"batch\"}"), 5.0);
  EXPECT_EQ(value(m, "ladle_time_to_first_token_seconds_count"), 1.0);
  EXPECT_EQ(value(m, "ladle_inter_token_latency_seconds_count"), 3.0);
  for (const char* hist : {"ladle_e2e_request_latency_seconds", "ladle_request_queue_time_seconds",
                           "ladle_request_prefill_time_seconds", "ladle_request_decode_time_seconds",
                           "ladle_request_generation_tokens"})
    EXPECT_EQ(value(m, std::string(hist) + "_count"), 1.0) << hist;
  EXPECT_EQ(value(m, "ladle_requests_finished_total{reason=\"length\"}"), 1.0);
  m.on_gauges(EngineGauges{.num_running = 5, .num_waiting = 7, .num_running_batch = 2, .num_waiting_batch = 6});
  EXPECT_EQ(value(m, "ladle_requests_running{class=\"interactive\"}"), 3.0);
  EXPECT_EQ(value(m, "ladle_requests_running{class=\"batch\"}"), 2.0);
  EXPECT_EQ(value(m, "ladle_requests_waiting{class=\"interactive\"}"), 1.0);
  EXPECT_EQ(value(m, "ladle_requests_waiting{class=\"batch\"}"), 6.0);
  EXPECT_EQ(value(m, "ladle_num_requests_running"), 5.0);
}

TEST(MetricsTest, StepsFeedHistogramsAndCounters) {
  Metrics m;
  m.on_step({.duration = 0.003, .batch_tokens = 40, .prefill_tokens = 32, .decode_tokens = 8},
            {.prompt_tokens = 32, .prefix_queried_tokens = 32, .prefix_hit_tokens = 16, .preemptions = 1});
  m.on_step({.duration = 0.0004, .batch_tokens = 8, .prefill_tokens = 0, .decode_tokens = 8}, {});
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, "ladle_step_duration_seconds_count"), 2.0);
  EXPECT_EQ(sample(text, "ladle_step_duration_seconds_bucket{le=\"0.0005\"}"), 1.0);
  EXPECT_EQ(sample(text, "ladle_decode_step_duration_seconds_count"), 1.0);  // the step with a prompt chunk is not one
  EXPECT_EQ(sample(text, "ladle_decode_step_duration_seconds_sum"), 0.0004);
  EXPECT_EQ(sample(text, "ladle_step_batch_tokens_sum"), 48.0);
  EXPECT_EQ(sample(text, "ladle_step_batch_tokens_bucket{le=\"8\"}"), 1.0);
  EXPECT_EQ(sample(text, "ladle_step_batch_tokens_bucket{le=\"64\"}"), 2.0);
  EXPECT_EQ(sample(text, "ladle_prompt_tokens_total"), 32.0);
  EXPECT_EQ(sample(text, "ladle_prefix_cache_queries_total"), 32.0);
  EXPECT_EQ(sample(text, "ladle_prefix_cache_hits_total"), 16.0);
  EXPECT_EQ(sample(text, "ladle_num_preemptions_total"), 1.0);
}

TEST(MetricsTest, ModelInfoCarriesTheShapeAndIsReplaced) {
  Metrics m;
  scheduler::ModelInfo info{.name = "stories260K.bin", .vocab_size = 512, .context_length = 512,
                            .dim = 64, .hidden_dim = 172, .n_layers = 5, .n_heads = 8,
                            .n_kv_heads = 4, .kv_blocks_total = 128, .block_size = 16, .isa = "avx2"};
  m.set_model_info(info);
  std::string text = m.serialize();
  const std::string series =
      "ladle_model_info{block_size=\"16\",context_length=\"512\",dim=\"64\",hidden_dim=\"172\",isa=\"avx2\","
      "model=\"stories260K.bin\",n_heads=\"8\",n_kv_heads=\"4\",n_layers=\"5\",vocab_size=\"512\"}";
  EXPECT_EQ(sample(text, series), 1.0) << text;
  EXPECT_EQ(sample(text, "ladle_kv_cache_blocks_capacity"), 128.0);
  info.name = "other.bin";
  m.set_model_info(info);
  text = m.serialize();
  EXPECT_EQ(sample(text, series), std::nullopt);
  EXPECT_NE(text.find("model=\"other.bin\""), std::string::npos);
}

// The step thread records while a scrape thread serializes: nothing is lost or torn.
TEST(MetricsTest, ConcurrentRecordingAndScrapingStayExact) {
  Metrics m;
  constexpr int kRequests = 2000, kTokens = 8;
  std::thread engine([&] {
    for (int i = 0; i < kRequests; ++i) run_request(m, i, kTokens, FinishReason::kStop);
  });
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(m.serialize().empty());
  engine.join();
  const std::string text = m.serialize();
  EXPECT_EQ(sample(text, "ladle_time_to_first_token_seconds_count"), kRequests);
  EXPECT_EQ(sample(text, "ladle_inter_token_latency_seconds_count"), kRequests * (kTokens - 1.0));
  EXPECT_EQ(sample(text, "ladle_generation_tokens_total"), kRequests * kTokens);
}

}  // namespace
}  // namespace ladle::server
