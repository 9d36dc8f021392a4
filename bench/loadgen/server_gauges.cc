#include "bench/loadgen/server_gauges.h"

#include <cstdio>

#include "bench/loadgen/http_get.h"
#include "bench/loadgen/metrics_text.h"

namespace ladle::loadgen {

namespace {
bool le(const std::optional<double>& now, const std::optional<double>& base) {
  return !now || !base || *now <= *base;
}
std::string show(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", *v);
  return buf;
}
}  // namespace

bool ServerGauges::at_or_below(const ServerGauges& b) const {
  return le(running, b.running) && le(waiting, b.waiting) && le(blocks_used, b.blocks_used);
}

std::string ServerGauges::to_string() const {
  return "running=" + show(running) + " waiting=" + show(waiting) + " blocks_used=" + show(blocks_used) +
         " generation_tokens=" + show(generation_tokens) + " cancelled=" + show(cancelled);
}

Expected<ServerGauges> read_gauges(const Url& url) {
  auto response = http_get(url, "/metrics", std::chrono::milliseconds(2000));
  if (!response) return response.error();
  ServerGauges g;
  g.at = std::chrono::steady_clock::now();
  if (response->status != 200)
    return make_error(ErrorCode::kUnavailable, "GET /metrics: HTTP " + std::to_string(response->status));
  auto samples = parse_metrics_text(response->body);
  if (!samples) return samples.error();
  g.running = metric_value(*samples, "ladle_num_requests_running");
  g.waiting = metric_value(*samples, "ladle_num_requests_waiting");
  g.blocks_used = metric_value(*samples, "ladle_kv_cache_blocks_used");
  // Counters are read with or without the `_total` suffix (exposition libraries differ).
  g.generation_tokens = metric_value(*samples, "ladle_generation_tokens_total");
  if (!g.generation_tokens) g.generation_tokens = metric_value(*samples, "ladle_generation_tokens");
  g.cancelled = metric_value(*samples, "ladle_requests_finished_total", {{"reason", "cancelled"}});
  if (!g.cancelled) g.cancelled = metric_value(*samples, "ladle_requests_finished", {{"reason", "cancelled"}});
  // A labelled counter appears only once incremented: present family, absent label → 0.
  if (!g.cancelled && (metric_value(*samples, "ladle_requests_finished_total") ||
                       metric_value(*samples, "ladle_requests_finished")))
    g.cancelled = 0.0;
  return g;
}

}  // namespace ladle::loadgen
