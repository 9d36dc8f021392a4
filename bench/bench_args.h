// Small command-line helpers shared by the bench programs (flags are ladle's FlagSet).
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

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

}  // namespace ladle::bench
