// A small synchronous Beast HTTP client for the server's socket tests, plus an SSE splitter.
// Test-only; each call opens its own connection unless a socket is passed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace ladle::server::test {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

struct Reply {
  unsigned status = 0;
  http::response<http::string_body> raw;
  std::string body;
};

inline tcp::socket connect_to(net::io_context& ioc, unsigned short port) {
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  return s;
}

// Sends one request on `socket` and reads the whole response (chunked bodies are decoded).
inline Reply exchange(tcp::socket& socket, boost::beast::flat_buffer& buffer, http::verb method,
                      const std::string& target, const std::string& body = "", bool keep_alive = true,
                      const std::string& authorization = "") {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  req.keep_alive(keep_alive);
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  Reply r;
  http::read(socket, buffer, r.raw);
  r.status = r.raw.result_int();
  r.body = r.raw.body();
  return r;
}

inline Reply request(unsigned short port, http::verb method, const std::string& target, const std::string& body = "",
                     const std::string& authorization = "") {
  net::io_context ioc;
  auto socket = connect_to(ioc, port);
  boost::beast::flat_buffer buffer;
  return exchange(socket, buffer, method, target, body, false, authorization);
}

inline Reply post(unsigned short port, const std::string& target, const std::string& body) {
  return request(port, http::verb::post, target, body);
}

// The payloads of the "data: " lines of an SSE body, in order (comments skipped).
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string::npos) end = body.size();
    std::string line = body.substr(pos, end - pos);
    if (line.rfind("data: ", 0) == 0) out.push_back(line.substr(6));
    pos = end + 1;
  }
  return out;
}

// A raw request string, for tests that must control the socket byte by byte.
inline std::string raw_post(const std::string& target, const std::string& body) {
  return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace ladle::server::test
