#include "bench/loadgen/url.h"

#include <charconv>

namespace ladle::loadgen {

Expected<Url> parse_url(std::string_view text) {
  auto bad = [&](const char* why) {
    return make_error(ErrorCode::kInvalidArgument, "bad URL \"" + std::string(text) + "\": " + why);
  };
  constexpr std::string_view kScheme = "http://";
  if (text.substr(0, kScheme.size()) != kScheme) return bad("only http:// is supported");
  std::string_view rest = text.substr(kScheme.size());
  std::string_view authority = rest.substr(0, rest.find('/'));
  std::string_view path = rest.substr(authority.size());
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  Url url;
  url.base_path = std::string(path);
  std::string_view host = authority, port = "80";
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated [");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ]");
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  int port_number = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (ec != std::errc() || p != port.data() + port.size() || port_number <= 0 || port_number > 65535)
    return bad("bad port");
  url.host = std::string(host);
  url.port = std::string(port);
  return url;
}

}  // namespace ladle::loadgen
