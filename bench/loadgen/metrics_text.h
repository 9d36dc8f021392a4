// Prometheus text exposition format (version 0.0.4) parsing, for reading a server's /metrics.
//
// Pure functions, any thread. Handles `# HELP`/`# TYPE` comments, labels with escaped values,
// optional timestamps and NaN/+Inf values; enough to read ladle's, llama-server's and vLLM's
// exposition. Histograms appear as their _bucket/_sum/_count samples.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"

namespace ladle::loadgen {

struct MetricSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses every sample line; fails with the line number on a malformed one.
Expected<std::vector<MetricSample>> parse_metrics_text(std::string_view text);

// Sum of the values of samples named `name` whose labels include all of `labels` (so a counter
// split by label is totalled when `labels` is empty). nullopt when no sample matched.
std::optional<double> metric_value(const std::vector<MetricSample>& samples, std::string_view name,
                                   const std::map<std::string, std::string>& labels = {});

}  // namespace ladle::loadgen
