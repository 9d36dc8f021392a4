// `ladle cancel-test`: drops requests at chosen points and checks through the server's /metrics
// that each dropped request frees its slot and KV blocks quickly and stops generating.
// Exit codes: 0 all freed within --max-free-ms, 1 a leak or a bound exceeded, 2 bad usage or an
// unreachable/unsuitable server.
#include <cstdio>
#include <span>
#include <string>

#include "bench/loadgen/cancel_harness.h"
#include "bench/loadgen/commands.h"
#include "bench/loadgen/http_get.h"
#include "bench/loadgen/stats.h"
#include "scheduler/flag_set.h"

namespace ladle::loadgen {
namespace {

struct CancelFlags {
  std::string url = "http://127.0.0.1:8080";
  std::string endpoint = "/v1/completions";
  std::string model;
  double max_free_ms = 100;
  CancelConfig config;
};

void register_flags(FlagSet& f, CancelFlags& c) {
  f.add("--url", &c.url, "server base URL (the only address contacted); the server must be otherwise idle");
  f.add("--endpoint", &c.endpoint, "/v1/completions or /v1/chat/completions");
  f.add("--model", &c.model, "model name to send (default: the first id from GET /v1/models)");
  f.add("--drops", &c.config.drops, "drops per drop point");
  f.add("--after-tokens", &c.config.after_tokens, "decode drop point: close after this many streamed tokens");
  f.add("--long-tokens", &c.config.long_tokens, "max_tokens of the dropped requests (sent with ignore_eos)");
  f.add("--prefill-len", &c.config.prefill_len, "prompt words of the prefill drop point");
  f.add("--prefill-max-tokens", &c.config.prefill_max_tokens, "max_tokens of the prefill drop point's requests");
  f.add("--prefill-drop-us", &c.config.prefill_drop_us, "prefill drop point: close this long after the write");
  f.add("--nonstream-drop-ms", &c.config.nonstream_drop_ms, "close non-streamed requests this long after the write");
  f.add("--saturate", &c.config.saturate, "streams opened for the queued drop point (must exceed the server's running limit)");
  f.add("--settle-ms", &c.config.settle_ms, "longest wait for the server to return to baseline before calling it a leak");
  f.add("--quiet-ms", &c.config.quiet_ms, "the baseline must hold, with no token generated, this long");
  f.add("--max-free-ms", &c.max_free_ms, "fail when a drop point's p99 close→free time exceeds this");
  f.add("--seed", &c.config.seed, "prompt and sampling seed");
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Prints one row per drop point; returns false when any leaked or exceeded the bound.
bool print_report(const std::vector<DropPointReport>& reports, double max_free_ms) {
  bool pass = true;
  std::printf("%-28s %5s %7s %9s %8s %8s %8s %5s %14s\n", "drop point", "tried", "dropped", "pre-token",
              "free p50", "free p99", "free max", "leaks", "tok>close mean/max");
  std::printf("%s\n", std::string(104, '-').c_str());
  for (const auto& r : reports) {
    Distribution d = distribution_of(r.free_ms);
    bool over = !r.free_ms.empty() && d.p99 > max_free_ms;
    pass = pass && !over && r.leaks == 0;
    Distribution tokens = distribution_of(r.tokens_after_close);
    std::string tok = r.tokens_after_close.empty() ? "-" : fmt(tokens.mean) + "/" + fmt(tokens.max);
    std::printf("%-28s %5d %7d %9d %8s %8s %8s %5d %14s%s\n", r.name.c_str(), r.attempted, r.dropped,
                r.before_first_token, r.free_ms.empty() ? "-" : fmt(d.p50).c_str(),
                r.free_ms.empty() ? "-" : fmt(d.p99).c_str(), r.free_ms.empty() ? "-" : fmt(d.max).c_str(),
                r.leaks, tok.c_str(), over ? "  OVER BOUND" : "");
    if (r.completed_before_drop > 0)
      std::printf("    %d request(s) completed before their drop point\n", r.completed_before_drop);
    if (r.not_cancelled > 0)
      std::printf("    %d drop(s) freed without a ladle_requests_finished_total{reason=\"cancelled\"} increment "
                  "(the request ended on its own first)\n",
                  r.not_cancelled);
    for (const auto& n : r.notes) std::printf("    note: %s\n", n.c_str());
  }
  std::printf("time-to-free in ms (close → running, waiting and KV blocks back to baseline, no token for the "
              "quiet window); bound %.0f ms\n",
              max_free_ms);
  std::printf("%s\n", pass ? "PASS: every dropped request was freed" : "FAIL: leak or bound exceeded");
  return pass;
}

}  // namespace

int run_cancel_test(std::span<const std::string> args) {
  CancelFlags c;
  FlagSet flags("ladle cancel-test [--url URL] [options]",
                "Drops requests by closing the socket (queued, during prefill, after M tokens, non-streamed)\n"
                "and checks the server's /metrics that slots and KV blocks are freed and generation stops.");
  register_flags(flags, c);
  if (auto st = flags.parse(args); !st) {
    std::fprintf(stderr, "ladle cancel-test: %s\n", st.error().message.c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.help().c_str());
    return 0;
  }
  auto url = parse_url(c.url);
  auto endpoint = parse_endpoint(c.endpoint);
  if (!url || !endpoint) {
    std::fprintf(stderr, "ladle cancel-test: %s\n", (!url ? url.error() : endpoint.error()).message.c_str());
    return 2;
  }
  if (c.config.drops < 1 || c.config.after_tokens < 1 || c.config.long_tokens < 2 || c.config.saturate < 1 ||
      c.config.settle_ms < 1 || c.config.quiet_ms < 0 || c.config.prefill_len < 1) {
    std::fprintf(stderr, "ladle cancel-test: counts and times must be positive\n");
    return 2;
  }
  c.config.url = *url;
  c.config.endpoint = *endpoint;
  c.config.model = c.model;
  if (c.config.model.empty()) {
    if (auto models = http_get(*url, "/v1/models"); models && models->status == 200)
      if (auto id = first_model_id(models->body)) c.config.model = *id;
  }
  CancelHarness harness(c.config);
  auto reports = harness.run();
  if (!reports) {
    std::fprintf(stderr, "ladle cancel-test: %s\n", reports.error().message.c_str());
    return 2;
  }
  return print_report(*reports, c.max_free_ms) ? 0 : 1;
}

}  // namespace ladle::loadgen
