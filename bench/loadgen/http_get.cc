#include "bench/loadgen/http_get.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace ladle::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Expected<HttpResponse> http_get(const Url& url, std::string_view path, std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::empty_body> req{http::verb::get, url.target(path), 11};
  req.set(http::field::host, url.host);
  req.set(http::field::user_agent, "ladle-bench");
  http::response_parser<http::string_body> parser;
  parser.body_limit(16u << 20);
  beast::error_code failure;
  std::string stage = "resolve";

  asio::ip::tcp::resolver resolver(ioc);
  stream.expires_after(timeout);
  // The chain: resolve → connect → write → read; any error stops it and is reported below.
  resolver.async_resolve(url.host, url.port, [&](beast::error_code ec, auto results) {
    if (ec) return void(failure = ec);
    stage = "connect";
    stream.async_connect(results, [&](beast::error_code ec, const auto&) {
      if (ec) return void(failure = ec);
      stage = "write";
      http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
        if (ec) return void(failure = ec);
        stage = "read";
        http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
          if (ec) failure = ec;
        });
      });
    });
  });
  ioc.run();
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  if (failure)
    return make_error(ErrorCode::kUnavailable,
                      "GET " + url.host + ":" + url.port + url.target(path) + ": " + stage + ": " + failure.message());
  return HttpResponse{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

}  // namespace ladle::loadgen
