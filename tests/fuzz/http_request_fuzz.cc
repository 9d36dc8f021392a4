// Fuzz target: raw bytes of an HTTP request → Beast's request parser (the session's limits) →
// Router::route (method, target, body, Authorization, x-api-key, Last-Event-ID) → the endpoint
// handlers of every dialect, on FakeEngine.
//
// Checks: nothing crashes or trips a sanitizer; every reply has a valid status, and every error
// reply (status >= 400) carries a JSON error object of its dialect (OpenAI's or Anthropic's; both
// have error.message).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <nlohmann/json.hpp>

#include "server/metrics.h"
#include "server/router.h"
#include "server/server_state.h"
#include "tests/testing/fake_engine.h"

namespace {

namespace http = boost::beast::http;
using namespace ladle;

struct World {
  server::Metrics metrics;
  testing::FakeEngine engine{{.paused = true}};
  server::ServerState state{server::ServerConfig{.max_body = 4096, .api_key = "k"}, &metrics};
  server::Router router{state};
  World() { state.set_engine(&engine); }
};

void check_reply(const server::HttpReply& reply) {
  if (reply.status < 100 || reply.status > 599) std::abort();
  if (reply.status >= 400) {
    auto j = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("error") || !j["error"].contains("message")) std::abort();
  }
}

// The glue between bytes and the router, as HttpSession::on_read does it (one function, so that a
// change of Router::route's signature is a change here only).
void route_bytes(World& w, std::string_view bytes) {
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(static_cast<std::uint64_t>(w.state.config().max_body));
  parser.header_limit(64 * 1024);
  boost::beast::error_code ec;
  std::size_t pos = 0;
  while (!parser.is_done() && pos < bytes.size()) {
    const std::size_t n = parser.put(boost::asio::buffer(bytes.data() + pos, bytes.size() - pos), ec);
    pos += n;
    if (ec == http::error::need_more) ec = {};
    if (ec) return;
    if (n == 0) break;
  }
  if (!parser.is_done() && parser.got_some()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return;
  const auto& req = parser.get();
  if (req.method() == http::verb::options) {
    check_reply(w.router.preflight(req.target(), req[http::field::access_control_request_headers]));
    return;
  }
  server::RouteResult result = w.router.route(server::RouteRequest{req.method(), req.target(), req.body(),
                                                                   req[http::field::authorization], req["x-api-key"],
                                                                   req["last-event-id"]});
  if (auto* reply = std::get_if<server::HttpReply>(&result)) check_reply(*reply);
  else if (auto* job = std::get_if<server::GenerationJob>(&result)) {
    if (job->request.prompt_tokens.empty() || !job->encoder) std::abort();
  } else if (auto* store = std::get_if<server::StoreJob>(&result)) {
    check_reply(store->run());  // on the batch runner's threads in the server
  } else if (!std::get<server::FollowJob>(result).response) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World();  // never destroyed: the fake engine's thread outlives every input
  route_bytes(*world, std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
