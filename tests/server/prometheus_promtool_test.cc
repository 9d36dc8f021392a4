// The exposition passes `promtool check metrics` (Debian package `prometheus`) with no problems
// and no warnings: fresh, after traffic, and with model info set.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "server/metrics.h"

namespace ladle::server {
namespace {

constexpr const char* kPromtool = "/usr/bin/promtool";

struct PromtoolResult {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

// Pipes `text` into `promtool check metrics` and collects what it prints.
PromtoolResult check_metrics(const std::string& text) {
  char out_path[] = "/tmp/ladle_promtool_XXXXXX";
  int fd = mkstemp(out_path);
  if (fd < 0) return {};
  close(fd);
  const std::string cmd = std::string(kPromtool) + " check metrics >" + out_path + " 2>&1";
  PromtoolResult result;
  if (FILE* pipe = popen(cmd.c_str(), "w")) {
    std::fwrite(text.data(), 1, text.size(), pipe);
    int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::ifstream in(out_path);
  std::stringstream buf;
  buf << in.rdbuf();
  result.output = buf.str();
  std::remove(out_path);
  return result;
}

void expect_clean(const std::string& text) {
  PromtoolResult r = check_metrics(text);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "promtool reported:\n" << r.output;
}

class PromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kPromtool, X_OK) != 0) GTEST_SKIP() << kPromtool << " not installed";
  }
};

// promtool itself must be able to fail, or the clean checks below prove nothing.
TEST_F(PromtoolTest, FlagsAProblematicExposition) {
  PromtoolResult r = check_metrics(
      "# HELP bad_requests Requests counted without the _total suffix.\n"
      "# TYPE bad_requests counter\n"
      "bad_requests 1\n");
  EXPECT_NE(r.output, "");
}

TEST_F(PromtoolTest, FreshMetricsAreClean) {
  Metrics m;
  expect_clean(m.serialize());
}

TEST_F(PromtoolTest, MetricsAfterTrafficAreClean) {
  Metrics m;
  m.set_model_info({.name = "stories260K.bin", .vocab_size = 512, .context_length = 512, .dim = 64,
                    .hidden_dim = 172, .n_layers = 5, .n_heads = 8, .n_kv_heads = 4,
                    .kv_blocks_total = 128, .block_size = 16});
  m.on_request_rejected(ErrorCode::kResourceExhausted);
  m.on_http_rejected("body_too_large");
  m.on_client_disconnect();
  m.on_first_token(1, 0.012);
  for (int i = 0; i < 20; ++i) m.on_next_token(1, 0.003);
  m.on_step({.duration = 0.004, .batch_tokens = 33, .prefill_tokens = 32, .decode_tokens = 1},
            {.prompt_tokens = 32, .prefix_queried_tokens = 32, .prefix_hit_tokens = 16});
  m.on_request_finished({.id = 1, .reason = scheduler::FinishReason::kLength, .prompt_tokens = 32,
                         .generation_tokens = 21, .queue_time = 0.001, .prefill_time = 0.011,
                         .decode_time = 0.06, .e2e_latency = 0.072, .got_first_token = true});
  m.on_gauges({.num_running = 1, .num_waiting = 0, .kv_blocks_total = 128, .kv_blocks_used = 3,
               .kv_blocks_cached = 2});
  expect_clean(m.serialize());
}

}  // namespace
}  // namespace ladle::server
