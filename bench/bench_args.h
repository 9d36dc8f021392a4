// Small helpers shared by the bench programs: command-line parsing (flags are ladle's FlagSet)
// and order statistics of repeated measurements.
#pragma once

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "model/isa.h"
#include "scheduler/flag_set.h"

namespace ladle::bench {

// Parses the program's arguments into `flags`. Returns the exit code to stop with (0 after
// printing --help, 2 after printing what was wrong with a flag), or nothing to go on.
inline std::optional<int> parse_flags(FlagSet& flags, int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const Status st = flags.parse(args);
  if (st && !flags.help_requested()) return std::nullopt;
  std::fprintf(stderr, "%s", st ? flags.help().c_str() : (st.error().message + "\n").c_str());
  return st ? 0 : 2;
}

// "15m,110m" -> {"15m", "110m"} (empty items kept, so "a,,b" has three).
inline std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> out;
  for (std::size_t a = 0, b; a <= list.size(); a = b + 1) {
    b = list.find(',', a);
    if (b == std::string::npos) b = list.size();
    out.push_back(list.substr(a, b - a));
  }
  return out;
}

// The p-th percentile (0..100) of `v`, interpolated linearly between ranks (0 for an empty v);
// p = 50 is the median.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double at = std::clamp(p, 0.0, 100.0) / 100.0 * double(v.size() - 1);
  const std::size_t lo = std::size_t(at), hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (v[hi] - v[lo]) * (at - double(lo));
}

inline double best_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

// "85 124 131": the values rounded to integers, joined by `sep`.
inline std::string join_rounded(const std::vector<double>& v, const std::string& sep = " ") {
  std::string out;
  for (double x : v) {
    if (!out.empty()) out += sep;
    out += std::to_string(long(x + 0.5));
  }
  return out;
}

// --isa for the benches that time the kernels at several ISA levels side by side: "" means every
// SIMD level this CPU has (the portable kernel, a libm fma per multiply-add, only when named),
// else a comma-separated list of model/isa.h names; a name this CPU cannot run is an error.
inline Expected<std::vector<model::Isa>> parse_isa_list(const std::string& list) {
  std::vector<model::Isa> out;
  if (list.empty()) {
    for (model::Isa isa : model::supported_isas())
      if (isa != model::Isa::kPortable) out.push_back(isa);
    if (out.empty()) out.push_back(model::Isa::kPortable);
    return out;
  }
  for (const std::string& name : split_commas(list)) {
    auto isa = model::parse_isa(name);
    if (!isa) return isa.error();
    out.push_back(*isa);
  }
  return out;
}

}  // namespace ladle::bench
