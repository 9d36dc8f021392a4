// HttpReply: a complete, non-streamed HTTP reply (status, content type, body, extra headers), as
// the handlers build it and the session writes it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ladle::server {

struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, Retry-After)
};

inline HttpReply json_reply(unsigned status, std::string body) {
  HttpReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace ladle::server
