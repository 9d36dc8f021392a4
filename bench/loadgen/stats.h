// Statistics over request samples: distributions (mean, std, percentiles), SLO goodput and the
// per-run summary that the text report, the JSON file and the plot are made from.
//
// Pure functions and plain data, any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/request_sample.h"
#include "kvcache/expected.h"

namespace ladle::loadgen {

// The p-th percentile (0..100) of `values` with linear interpolation between closest ranks
// (numpy's default, which vLLM's report uses). 0 for an empty input.
double percentile(std::span<const double> values, double p);

struct Distribution {
  std::size_t count = 0;
  double mean = 0, stddev = 0, min = 0, max = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0;
};
Distribution distribution_of(std::span<const double> values);

// Service-level objectives for goodput; a request is "good" when it succeeded and meets all set.
struct Slo {
  std::optional<double> ttft_ms, tpot_ms, e2el_ms;
  bool any() const { return ttft_ms || tpot_ms || e2el_ms; }
};
// Parses "ttft:MS,tpot:MS,e2el:MS" (any subset, any order).
Expected<Slo> parse_slo(std::string_view text);
bool meets_slo(const RequestSample& sample, const Slo& slo);

struct RunSummary {
  std::string label;            // "concurrency 8", "rate 4.0/s", ...
  int level = 0;                // the concurrency (closed loop) or 0
  double request_rate = 0;      // offered rate (open loop), 0 otherwise
  double duration_s = 0;        // first write → last response
  int completed = 0, failed = 0;
  int dropped = 0;              // closed by the client on purpose (--drop-rate): neither of the above
  long long total_input_tokens = 0, total_output_tokens = 0;
  double request_throughput = 0, output_throughput = 0, total_token_throughput = 0;
  double goodput = 0;           // good requests per second (when an SLO is set)
  int good = 0;
  int merged_token_requests = 0;  // requests whose server merged tokens into events
  Distribution ttft, tpot, itl, e2el;
};

// Summarises one run. Failed requests count only in `failed`, dropped ones only in `dropped`;
// the latencies of both are excluded.
RunSummary summarize(std::span<const RequestSample> samples, double duration_s, const Slo& slo);

}  // namespace ladle::loadgen
