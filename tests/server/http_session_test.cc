// HttpSession's limits over loopback against FakeEngine: the header timeout (a slowloris client
// never reaches the engine), header size / count and URL length, JSON shape limits through the
// routes, the --max-connections cap, and the capped send queue of a stuck reader.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "server/metrics.h"
#include "server/server.h"
#include "tests/server/fake_server.h"
#include "tests/server/test_client.h"
#include "tests/testing/fake_engine.h"

namespace ladle::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeEngine;
namespace t = test;

class HttpSessionTest : public test::FakeServerTest {
 protected:
  void start(ServerConfig config, testing::FakeEngineOptions options = {}) { FakeServerTest::start(options, config); }

  // Writes `raw` and reads one response.
  t::Reply raw_exchange(const std::string& raw) {
    t::net::io_context ioc;
    auto socket = t::connect_to(ioc, port());
    t::net::write(socket, t::net::buffer(raw));
    boost::beast::flat_buffer buffer;
    t::Reply r;
    t::http::read(socket, buffer, r.raw);
    r.status = r.raw.result_int();
    r.body = r.raw.body();
    return r;
  }

};

std::string error_code_of(const std::string& body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return "<not an OpenAI error: " + body + ">";
  return j["error"]["code"].is_string() ? j["error"]["code"].get<std::string>() : "";
}

// A client that sends its headers a byte at a time, as slowloris does, is cut once
// --header-timeout has passed since its first byte, and nothing reached the engine.
TEST_F(HttpSessionTest, SlowHeadersAreCutByTheHeaderTimeout) {
  start(ServerConfig{.header_timeout = 0.5});
  t::net::io_context ioc;
  auto socket = t::connect_to(ioc, port());
  const std::string head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                           std::string(200, 'X') + ": y\r\n\r\n";
  bool cut = false;
  for (char c : head) {  // 200+ bytes at 20 ms each: ~5 s, ten times the timeout
    boost::system::error_code ec;
    t::net::write(socket, t::net::buffer(&c, 1), ec);
    if (ec) {
      cut = true;
      break;
    }
    socket.non_blocking(true);
    char byte;
    socket.read_some(t::net::buffer(&byte, 1), ec);  // EOF once the server has closed
    socket.non_blocking(false);
    if (ec == t::net::error::eof || ec == t::net::error::connection_reset) {
      cut = true;
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(cut) << "the server waited for the whole slow header";
  EXPECT_TRUE(engine_->submitted().empty());
  EXPECT_EQ(engine_->num_live(), 0);
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/health").status, 200u);  // others are served
}

// An idle keep-alive connection is governed by --idle-timeout, not by the header timeout: a
// client may wait longer than --header-timeout before its next request.
TEST_F(HttpSessionTest, TheHeaderTimeoutStartsAtTheRequestsFirstByte) {
  start(ServerConfig{.idle_timeout = 30, .header_timeout = 0.3});
  t::net::io_context ioc;
  auto socket = t::connect_to(ioc, port());
  boost::beast::flat_buffer buffer;
  EXPECT_EQ(t::exchange(socket, buffer, t::http::verb::get, "/health").status, 200u);
  std::this_thread::sleep_for(800ms);
  EXPECT_EQ(t::exchange(socket, buffer, t::http::verb::get, "/health").status, 200u);
}

TEST_F(HttpSessionTest, HeaderSizeHeaderCountAndUrlLengthAreLimited) {
  start(ServerConfig{.max_header_bytes = 2048, .max_header_count = 10, .max_url_length = 100});
  auto get = [](const std::string& target, const std::string& headers) {
    return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n";
  };
  EXPECT_EQ(raw_exchange(get("/health", "")).status, 200u);

  auto r = raw_exchange(get("/health?" + std::string(200, 'q'), ""));
  EXPECT_EQ(r.status, 414u);
  EXPECT_EQ(error_code_of(r.body), "url_too_long");

  std::string many;
  for (int i = 0; i < 12; ++i) many += "X-" + std::to_string(i) + ": y\r\n";
  r = raw_exchange(get("/health", many));
  EXPECT_EQ(r.status, 431u);
  EXPECT_EQ(error_code_of(r.body), "header_too_large");

  r = raw_exchange(get("/health", "X-Big: " + std::string(4096, 'b') + "\r\n"));
  EXPECT_EQ(r.status, 431u);
  EXPECT_EQ(error_code_of(r.body), "header_too_large");
  EXPECT_FALSE(r.raw.keep_alive());
}

TEST_F(HttpSessionTest, JsonShapeLimitsAnswer400BeforeTheEngine) {
  start(ServerConfig{});
  auto r = t::post(port(), "/v1/completions", R"({"prompt":"a","user":)" + std::string(100, '[') +
                                                  std::string(100, ']') + "}");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(error_code_of(r.body), "json_too_deep");
  std::string messages = R"({"messages":[)";
  for (int i = 0; i < 2049; ++i) messages += std::string(i ? "," : "") + R"({"role":"user","content":"hi"})";
  r = t::post(port(), "/v1/chat/completions", messages + "]}");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(error_code_of(r.body), "array_above_max_length");
  EXPECT_EQ(json::parse(r.body)["error"]["param"], "messages");
  r = t::post(port(), "/detokenize", R"({"tokens":[)" + std::string(100, '[') + "]}");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(error_code_of(r.body), "json_too_deep");
  EXPECT_TRUE(engine_->submitted().empty());
}

// Connections beyond --max-connections get a 503 in OpenAI's shape and are closed; once one
// closes, a new connection is served again.
TEST_F(HttpSessionTest, ConnectionsBeyondTheCapGet503) {
  start(ServerConfig{.max_connections = 2});
  t::net::io_context ioc;
  auto a = t::connect_to(ioc, port());
  auto b = t::connect_to(ioc, port());
  boost::beast::flat_buffer buffer;
  EXPECT_EQ(t::exchange(a, buffer, t::http::verb::get, "/health").status, 200u);  // a and b are open
  auto r = t::request(port(), t::http::verb::get, "/health");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(error_code_of(r.body), "too_many_connections");
  b.close();
  bool served = FakeEngine::wait_for(
      [&] { return t::request(port(), t::http::verb::get, "/health").status == 200u; }, 3000ms);
  EXPECT_TRUE(served);
}

// A client that never reads, with a small receive buffer: its 256 KiB stream would fit in the
// send queue Linux grows for a loopback connection (megabytes), so without the cap the request
// runs to its end unnoticed, holding its slot all along. With the capped queue its writes stall
// after a few KiB and --stall-timeout cancels it long before its last token.
TEST_F(HttpSessionTest, AStuckReaderIsCancelledBeforeItsStreamEnds) {
  testing::FakeEngineOptions options{.script = {std::string(256, 'z')}, .step_interval = 2ms, .context_length = 100000};
  start(ServerConfig{.stall_timeout = 0.3}, options);
  t::net::io_context ioc;
  t::tcp::socket socket(ioc);
  socket.open(t::tcp::v4());
  socket.set_option(t::net::socket_base::receive_buffer_size(2048));
  socket.connect(t::tcp::endpoint(t::net::ip::make_address("127.0.0.1"), port()));
  // 1024 tokens of 256 bytes at 2 ms a step: ≥ 2 s of generation, 7x the stall timeout.
  t::net::write(socket, t::net::buffer(t::raw_post("/v1/completions",
                                                   R"({"prompt":"a","max_tokens":1024,"stream":true})")));
  ASSERT_TRUE(FakeEngine::wait_for([&] { return !engine_->submitted().empty(); }, 2000ms));
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->num_live() == 0; }, 10000ms));
  EXPECT_EQ(engine_->cancelled().size(), 1u) << "the stuck reader's request ran to its end";
}

}  // namespace
}  // namespace ladle::server
