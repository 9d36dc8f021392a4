// ServerGauges: the few numbers of a server's /metrics that tell whether a request still holds
// resources, read with one GET and timestamped when the response arrived.
//
// read_gauges() is a blocking free function (its own io_context), callable from any thread.
// Names are ladle's; a metric a server does not export reads as nullopt.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "bench/loadgen/url.h"
#include "kvcache/expected.h"

namespace ladle::loadgen {

struct ServerGauges {
  std::chrono::steady_clock::time_point at{};  // when the /metrics response was complete
  std::optional<double> running;               // ladle_num_requests_running
  std::optional<double> waiting;               // ladle_num_requests_waiting
  std::optional<double> blocks_used;           // ladle_kv_cache_blocks_used
  std::optional<double> generation_tokens;     // ladle_generation_tokens_total
  std::optional<double> cancelled;             // ladle_requests_finished_total{reason="cancelled"}

  // running, waiting and blocks_used are at or below `baseline`'s (missing metrics compare
  // as satisfied, so a server without a metric is judged on the others).
  bool at_or_below(const ServerGauges& baseline) const;
  std::string to_string() const;
};

// GET /metrics and extract the gauges. Fails when the server cannot be reached, answers non-200
// or the text does not parse.
Expected<ServerGauges> read_gauges(const Url& url);

}  // namespace ladle::loadgen
