// The API key check shared by every entry point (the router's headers, the WebSocket's
// subprotocol): constant time in the key's bytes, so that a guess does not learn how much of it was
// right.
#pragma once

#include <string_view>

namespace ladle::server {

inline bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// True when no key is configured, or `candidate` is it.
inline bool api_key_matches(std::string_view key, std::string_view candidate) {
  return key.empty() || equal_constant_time(candidate, key);
}

}  // namespace ladle::server
