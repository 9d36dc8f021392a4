// PathComparison: the two paths of one run side by side (`ladle bench --alt-url`, e.g. a replica
// reached directly and through a proxy, requests alternating in the same time window), with the
// difference of TTFT p50 and the change of ITL p99 and their bootstrap confidence intervals.
// With the server's own TTFT in the samples (`--server-timing`), also the difference of the p50 of
// client TTFT − server TTFT: the time a request spends outside the server (connection, proxy,
// loopback, client), without the queueing that makes TTFT itself vary by tens of milliseconds.
//
// The bootstrap resamples requests with replacement within each path (a request's ITL gaps come
// with it), so the intervals include the spread of batch positions and tails, not the drift of
// the machine between runs; many short runs (bench/cluster_bench.sh section 4) cover that.
//
// Pure functions and plain data, any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "bench/loadgen/request_sample.h"
#include "bench/loadgen/stats.h"

namespace ladle::loadgen {

struct Estimate {
  double value = 0;       // from all samples
  double lo = 0, hi = 0;  // 95 % bootstrap percentile interval
};

struct PathComparison {
  RunSummary paths[2];           // path 0 (--url) and path 1 (--alt-url), from their samples only
  Estimate ttft_p50_diff_ms;     // path 1 − path 0
  Estimate itl_p99_change_pct;   // 100 · (path 1 / path 0 − 1)
  // Requests that reported the server's TTFT, per path, and the p50 of their client − server TTFT.
  int outside_count[2] = {0, 0};
  double outside_p50_ms[2] = {0, 0};
  Estimate outside_p50_diff_ms;  // path 1 − path 0 (both paths must have reports)
  int resamples = 0;
};

// Compares the successful samples of path 0 and path 1 in `samples` (RequestSample::path).
// Deterministic for a given seed. With no successful sample on a path, the estimates are 0.
PathComparison compare_paths(std::span<const RequestSample> samples, double duration_s, int resamples = 2000,
                             std::uint64_t seed = 1);

// Text block printed after a level's report; names are the two URLs.
std::string format_comparison(const PathComparison& c, const std::string& name0, const std::string& name1);
nlohmann::json comparison_to_json(const PathComparison& c);

}  // namespace ladle::loadgen
