// Benchmark reports: the text block shaped like `vllm bench serve`'s, and the JSON document
// (every summary number plus the raw per-request samples).
//
// Pure functions, any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "bench/loadgen/request_sample.h"
#include "bench/loadgen/stats.h"

namespace ladle::loadgen {

// The human-readable report of one run (one concurrency level or one request rate).
std::string format_report(const RunSummary& summary, const Slo& slo);

nlohmann::json summary_to_json(const RunSummary& summary);
nlohmann::json sample_to_json(const RequestSample& sample);

}  // namespace ladle::loadgen
