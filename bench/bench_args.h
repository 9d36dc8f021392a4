// Small command-line helpers shared by the bench programs.
#pragma once

#include <string>
#include <vector>

namespace ladle::bench {

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
