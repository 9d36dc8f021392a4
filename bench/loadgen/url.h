// Url: the parts of an `http://host[:port][/base]` server address that the load tools need.
//
// Plain value type, any thread. Only plain HTTP is supported (the tools target loopback or a
// given address; TLS would add nothing to a latency benchmark but its own cost).
#pragma once

#include <string>
#include <string_view>

#include "kvcache/expected.h"

namespace ladle::loadgen {

struct Url {
  std::string host;
  std::string port;       // decimal, "80" when absent
  std::string base_path;  // without a trailing '/', "" for the root

  // base_path + path, e.g. "/v1/completions".
  std::string target(std::string_view path) const { return base_path + std::string(path); }
};

// Parses "http://host[:port][/base]". Fails on other schemes, empty hosts and bad ports.
Expected<Url> parse_url(std::string_view text);

}  // namespace ladle::loadgen
