// The value of one parameter of a request target's query string ("/v1/batches?limit=2&after=x").
// Not percent-decoded: for ids and integers only.
//
// Thread-safety: pure function.
#pragma once

#include <algorithm>
#include <optional>
#include <string_view>

namespace ladle::server {

inline std::optional<std::string_view> query_param(std::string_view target, std::string_view name) {
  const std::size_t q = target.find('?');
  if (q == target.npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const std::string_view pair = rest.substr(0, rest.find('&'));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
    const std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == pair.npos ? std::string_view() : pair.substr(eq + 1);
  }
  return std::nullopt;
}

}  // namespace ladle::server
