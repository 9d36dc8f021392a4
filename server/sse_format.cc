#include "server/sse_format.h"

#include <cstdio>

namespace ladle::server {

std::string sse_event(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 8);
  std::size_t start = 0;
  while (true) {
    std::size_t end = data.find('\n', start);
    std::string_view line = data.substr(start, end == std::string_view::npos ? end : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out += "data: ";
    out += line;
    out += '\n';
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  out += '\n';
  return out;
}

std::string_view sse_done() { return "data: [DONE]\n\n"; }

std::string sse_comment(std::string_view text) {
  std::string out = ": ";
  out += text;
  out += "\n\n";
  return out;
}

std::string http_chunk(std::string_view payload) {
  if (payload.empty()) return {};
  char size[20];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", payload.size());
  std::string out;
  out.reserve(payload.size() + static_cast<std::size_t>(n) + 2);
  out.append(size, static_cast<std::size_t>(n));
  out += payload;
  out += "\r\n";
  return out;
}

std::string_view http_last_chunk() { return "0\r\n\r\n"; }

std::string body_piece(std::string_view payload, bool chunked) {
  return chunked ? http_chunk(payload) : std::string(payload);
}

std::string_view body_end(bool chunked) { return chunked ? http_last_chunk() : std::string_view(); }

std::string sse_response_head(bool keep_alive, bool chunked, std::string_view allow_origin) {
  std::string head =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\n"
      "X-Accel-Buffering: no\r\n";
  if (chunked) head += "Transfer-Encoding: chunked\r\n";
  head += "Server: ladle\r\n";
  if (!allow_origin.empty()) {
    head += "Access-Control-Allow-Origin: ";
    head += allow_origin;
    head += "\r\n";
  }
  head += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  head += "\r\n";
  return head;
}

}  // namespace ladle::server
