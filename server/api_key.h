// The API key check shared by every entry point (the router's headers, the WebSocket's
// subprotocol): constant time in the key's bytes, so that a guess does not learn how much of it was
// right.
#pragma once

#include <string_view>

namespace ladle::server {

// `candidate` against `key`, in a time that depends on the key's length only: a wrong guess
// learns neither how many of its bytes were right nor how long the key is.
inline bool equal_constant_time(std::string_view candidate, std::string_view key) {
  unsigned char diff = candidate.size() == key.size() ? 0 : 1;
  for (std::size_t i = 0; i < key.size(); ++i)
    diff |= static_cast<unsigned char>(key[i] ^ (i < candidate.size() ? candidate[i] : 0));
  return diff == 0;
}

// True when no key is configured, or `candidate` is it.
inline bool api_key_matches(std::string_view key, std::string_view candidate) {
  return key.empty() || equal_constant_time(candidate, key);
}

}  // namespace ladle::server
