#include "bench/loadgen/report.h"

#include <cstdio>

namespace ladle::loadgen {
namespace {

void line(std::string& out, const char* name, double v, int decimals = 2) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%-40s %-10.*f\n", name, decimals, v);
  out += buf;
}

void rule(std::string& out, const char* title, char fill) {
  std::string t = title;
  std::size_t width = 50, pad = t.size() < width ? (width - t.size()) / 2 : 0;
  out += std::string(pad, fill) + t + std::string(width - pad - t.size(), fill) + "\n";
}

void latency(std::string& out, const char* title, const char* abbr, const Distribution& d) {
  rule(out, title, '-');
  std::string n = abbr;
  line(out, ("Mean " + n + " (ms):").c_str(), d.mean);
  line(out, ("Median " + n + " (ms):").c_str(), d.p50);
  line(out, ("P90 " + n + " (ms):").c_str(), d.p90);
  line(out, ("P95 " + n + " (ms):").c_str(), d.p95);
  line(out, ("P99 " + n + " (ms):").c_str(), d.p99);
}

nlohmann::json dist_json(const Distribution& d) {
  return {{"count", d.count}, {"mean", d.mean}, {"std", d.stddev}, {"min", d.min}, {"max", d.max},
          {"p50", d.p50},     {"p90", d.p90},   {"p95", d.p95},    {"p99", d.p99}};
}

}  // namespace

std::string format_report(const RunSummary& s, const Slo& slo) {
  std::string out;
  rule(out, (" Serving Benchmark Result (" + s.label + ") ").c_str(), '=');
  line(out, "Successful requests:", s.completed, 0);
  line(out, "Failed requests:", s.failed, 0);
  if (s.dropped > 0) line(out, "Dropped by the client (--drop-rate):", s.dropped, 0);
  if (s.request_rate > 0) line(out, "Request rate configured (RPS):", s.request_rate);
  if (s.level > 0) line(out, "Maximum request concurrency:", s.level, 0);
  line(out, "Benchmark duration (s):", s.duration_s);
  line(out, "Total input tokens:", static_cast<double>(s.total_input_tokens), 0);
  line(out, "Total generated tokens:", static_cast<double>(s.total_output_tokens), 0);
  line(out, "Request throughput (req/s):", s.request_throughput);
  if (slo.any()) line(out, "Request goodput (req/s):", s.goodput);
  line(out, "Output token throughput (tok/s):", s.output_throughput);
  line(out, "Total Token throughput (tok/s):", s.total_token_throughput);
  latency(out, "Time to First Token", "TTFT", s.ttft);
  latency(out, "Time per Output Token (excl. 1st token)", "TPOT", s.tpot);
  latency(out, "Inter-token Latency", "ITL", s.itl);
  latency(out, "End-to-end Latency", "E2EL", s.e2el);
  if (s.merged_token_requests > 0) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "note: %d requests got several tokens per event; ITL is per event, TPOT per token\n",
                  s.merged_token_requests);
    out += buf;
  }
  out += std::string(50, '=') + "\n";
  return out;
}

nlohmann::json summary_to_json(const RunSummary& s) {
  return {{"label", s.label},
          {"concurrency", s.level},
          {"request_rate", s.request_rate},
          {"duration_s", s.duration_s},
          {"completed", s.completed},
          {"failed", s.failed},
          {"dropped", s.dropped},
          {"total_input_tokens", s.total_input_tokens},
          {"total_output_tokens", s.total_output_tokens},
          {"request_throughput", s.request_throughput},
          {"output_throughput", s.output_throughput},
          {"total_token_throughput", s.total_token_throughput},
          {"good_requests", s.good},
          {"goodput", s.goodput},
          {"merged_token_requests", s.merged_token_requests},
          {"ttft_ms", dist_json(s.ttft)},
          {"tpot_ms", dist_json(s.tpot)},
          {"itl_ms", dist_json(s.itl)},
          {"e2el_ms", dist_json(s.e2el)}};
}

nlohmann::json sample_to_json(const RequestSample& r) {
  return {{"index", r.index},         {"level", r.level}, {"path", r.path}, {"client", r.client}, {"wait_ms", r.wait_ms},
          {"input_words", r.input_words}, {"max_tokens", r.max_tokens},
          {"start_s", r.start_s},     {"connect_ms", r.connect_ms},
          {"ok", r.ok},               {"error", r.error},
          {"http_status", r.http_status}, {"ttft_ms", r.ttft_ms}, {"server_ttft_ms", r.server_ttft_ms},
          {"tpot_ms", r.tpot_ms()},   {"e2e_ms", r.e2e_ms},
          {"itl_ms", r.itl_ms},       {"output_tokens", r.output_tokens},
          {"prompt_tokens", r.prompt_tokens}, {"content_events", r.content_events},
          {"usage_reported", r.usage_reported}, {"dropped", r.dropped}};
}

}  // namespace ladle::loadgen
