// End-to-end tests of the HTTP front end over loopback against FakeEngine: routes, SSE framing,
// bad input, keep-alive/pipelining, disconnect → cancel, stall cut-off, 512 streams, drain.
#include <gtest/gtest.h>
#include <poll.h>

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>

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
using testing::FakeEngineOptions;
namespace t = test;

class HttpE2eTest : public test::FakeServerTest {
 protected:
  bool cancelled_soon(std::size_t n = 1) {
    return FakeEngine::wait_for([&] { return engine_->cancelled().size() >= n && engine_->num_live() == 0; }, 3000ms);
  }
};

TEST_F(HttpE2eTest, HealthModelsMetricsAndRouting) {
  start();
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/health").status, 200u);
  auto models = t::request(port(), t::http::verb::get, "/v1/models");
  ASSERT_EQ(models.status, 200u);
  EXPECT_EQ(json::parse(models.body)["data"][0]["id"], "fake-model");
  auto one = t::request(port(), t::http::verb::get, "/v1/models/fake-model");
  ASSERT_EQ(one.status, 200u);
  EXPECT_EQ(json::parse(one.body), json::parse(models.body)["data"][0]);
  auto other = t::request(port(), t::http::verb::get, "/v1/models/gpt-4");
  EXPECT_EQ(other.status, 404u);
  EXPECT_EQ(json::parse(other.body)["error"]["code"], "model_not_found");
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/v1/models/fake-model/x").status, 404u);
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/v1/models/").status, 404u);
  auto metrics = t::request(port(), t::http::verb::get, "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_EQ(metrics.raw[t::http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("ladle_"), std::string::npos);
  auto missing = t::request(port(), t::http::verb::get, "/nope");
  EXPECT_EQ(missing.status, 404u);
  EXPECT_TRUE(json::parse(missing.body)["error"].contains("message"));
  auto wrong = t::request(port(), t::http::verb::get, "/v1/completions");
  EXPECT_EQ(wrong.status, 405u);
  EXPECT_EQ(wrong.raw[t::http::field::allow], "POST");
}

// A prompt of token ids reaches the engine as it is (no BOS added); an id outside the vocabulary is
// a 400 naming the prompt.
TEST_F(HttpE2eTest, TokenIdPromptGoesToTheEngineAsIs) {
  start();
  auto r = t::post(port(), "/v1/completions", R"({"prompt":[5,6,7],"max_tokens":2})");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(json::parse(r.body)["usage"]["prompt_tokens"], 3);
  ASSERT_EQ(engine_->submitted().size(), 1u);
  EXPECT_EQ(engine_->submitted()[0].prompt_tokens, (std::vector<TokenId>{5, 6, 7}));
  auto bad = t::post(port(), "/v1/completions", R"({"prompt":[5,100000],"max_tokens":2})");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(json::parse(bad.body)["error"]["param"], "prompt");
  EXPECT_EQ(engine_->submitted().size(), 1u);
}

TEST_F(HttpE2eTest, NonStreamedCompletionHasTextAndUsage) {
  start();
  auto r = t::post(port(), "/v1/completions", R"({"prompt":"hi","max_tokens":5,"temperature":0})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], " Once upon a time Once");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 3);  // BOS + 2 bytes
  EXPECT_EQ(j["usage"]["completion_tokens"], 5);
  EXPECT_EQ(j["usage"]["total_tokens"], 8);
}

TEST_F(HttpE2eTest, StreamedCompletionMatchesNonStreamedAndIsFramed) {
  start();
  auto r = t::post(port(), "/v1/completions",
                   R"({"prompt":"hi","max_tokens":7,"stream":true,"stream_options":{"include_usage":true},"stop":" a"})");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.raw[t::http::field::content_type], "text/event-stream");
  EXPECT_EQ(r.raw[t::http::field::cache_control], "no-cache");
  EXPECT_EQ(r.raw["X-Accel-Buffering"], "no");
  auto events = t::sse_data(r.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (std::size_t i = 0; i + 3 < events.size(); ++i) text += json::parse(events[i])["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, " Once upon");  // " a" is a stop string: held back and not delivered
  auto finish = json::parse(events[events.size() - 3]);
  EXPECT_EQ(finish["choices"][0]["finish_reason"], "stop");
  auto usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
  auto plain = json::parse(t::post(port(), "/v1/completions", R"({"prompt":"hi","max_tokens":7,"stop":" a"})").body);
  EXPECT_EQ(plain["choices"][0]["text"], text);
}

TEST_F(HttpE2eTest, StreamedChatPutsRoleInFirstDelta) {
  start();
  auto r = t::post(port(), "/v1/chat/completions",
                   R"({"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello"}],"max_tokens":3,"stream":true})");
  ASSERT_EQ(r.status, 200u);
  auto events = t::sse_data(r.body);
  auto first = json::parse(events[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  EXPECT_FALSE(json::parse(events[1])["choices"][0]["delta"].contains("role"));
  EXPECT_EQ(events.back(), "[DONE]");
  std::string prompt = "System: be brief\nUser: hello\nAssistant:";
  ASSERT_EQ(engine_->submitted().size(), 1u);
  EXPECT_EQ(engine_->submitted()[0].prompt_tokens.size(), prompt.size() + 1);
  auto plain = json::parse(t::post(port(), "/v1/chat/completions", R"({"messages":[{"role":"user","content":"x"}],"max_tokens":2})").body);
  EXPECT_EQ(plain["choices"][0]["message"]["content"], " Once upon");
  EXPECT_EQ(plain["object"], "chat.completion");
}

TEST_F(HttpE2eTest, BadInputGetsOpenAiErrors) {
  start({}, ServerConfig{.max_body = 4096});
  struct Case { std::string target, body; unsigned status; std::string param; };
  std::vector<Case> cases = {
      {"/v1/completions", "{not json", 400, ""},
      {"/v1/completions", R"({"max_tokens":3})", 400, "prompt"},
      {"/v1/completions", R"({"prompt":"a","temperature":-1})", 400, "temperature"},
      {"/v1/completions", R"({"prompt":"a","top_p":0})", 400, "top_p"},
      {"/v1/completions", R"({"prompt":"a","max_tokens":-2})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt":"a","max_tokens":"7"})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt":"a","n":2})", 400, "n"},
      {"/v1/completions", "{\"prompt\":\"\xff\"}", 400, ""},
      {"/v1/completions", R"({"prompt":")" + std::string(300, 'x') + "\"}", 400, "prompt"},
      {"/v1/chat/completions", R"({"messages":[{"role":"wizard","content":"a"}]})", 400, "messages"},
      {"/v1/chat/completions", R"({"prompt":"a"})", 400, "messages"},
      {"/v1/completions", R"({"prompt":")" + std::string(5000, 'x') + "\"}", 413, ""},
      {"/detokenize", R"({"tokens":[1,99999]})", 400, "tokens"},
  };
  for (const auto& c : cases) {
    auto r = t::post(port(), c.target, c.body);
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 60) << " → " << r.body;
    auto j = json::parse(r.body);
    ASSERT_TRUE(j["error"].is_object()) << r.body;
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_TRUE(j["error"].contains("type") && j["error"].contains("code"));
    if (!c.param.empty()) {
      EXPECT_EQ(j["error"]["param"], c.param) << c.body.substr(0, 60);
    }
  }
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/health").status, 200u);  // still serving
}

// A client that sends `Expect: 100-continue` holds its body back until it hears "100 Continue"
// (curl gives up waiting only after a second): it must hear it at once, and a body the header
// already shows to be too large must be refused before it is sent.
TEST_F(HttpE2eTest, ExpectContinueGets100BeforeTheBodyOrAn413) {
  start({}, ServerConfig{.max_body = 4096});
  auto header = [](std::size_t length) {
    return "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
           "Content-Length: " + std::to_string(length) + "\r\n\r\n";
  };
  auto readable_within = [](t::tcp::socket& s, int ms) {
    pollfd p{s.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, ms) == 1;
  };
  t::net::io_context ioc;
  {
    auto socket = t::connect_to(ioc, port());
    const std::string body = R"({"prompt":"a","max_tokens":2})";
    t::net::write(socket, t::net::buffer(header(body.size())));
    ASSERT_TRUE(readable_within(socket, 2000)) << "no interim response to Expect: 100-continue";
    std::string interim;
    t::net::read_until(socket, t::net::dynamic_buffer(interim), "\r\n\r\n");
    EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    t::net::write(socket, t::net::buffer(body));
    boost::beast::flat_buffer buffer;
    t::http::response<t::http::string_body> res;
    t::http::read(socket, buffer, res);
    EXPECT_EQ(res.result_int(), 200u);
    EXPECT_EQ(json::parse(res.body())["choices"][0]["text"], " Once upon");
  }
  {
    auto socket = t::connect_to(ioc, port());
    t::net::write(socket, t::net::buffer(header(5000)));
    ASSERT_TRUE(readable_within(socket, 2000));
    boost::beast::flat_buffer buffer;
    t::http::response<t::http::string_body> res;
    t::http::read(socket, buffer, res);
    EXPECT_EQ(res.result_int(), 413u);  // not 100: the body is never wanted
  }
}

// An HTTP/1.0 client knows no chunked encoding: its stream comes unframed and ends with the
// connection.
TEST_F(HttpE2eTest, Http10StreamIsUnchunkedAndEndsWithTheConnection) {
  start();
  t::net::io_context ioc;
  auto socket = t::connect_to(ioc, port());
  const std::string body = R"({"prompt":"a","max_tokens":3,"stream":true})";
  t::net::write(socket, t::net::buffer("POST /v1/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
                                       "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  std::string all;
  boost::system::error_code ec;
  t::net::read(socket, t::net::dynamic_buffer(all), ec);  // until the server closes
  EXPECT_EQ(ec, t::net::error::eof);
  const std::size_t head_end = all.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  const std::string head = all.substr(0, head_end), events = all.substr(head_end + 4);
  EXPECT_EQ(head.find("Transfer-Encoding"), std::string::npos) << head;
  EXPECT_NE(head.find("Connection: close"), std::string::npos) << head;
  EXPECT_EQ(events.rfind("data: {", 0), 0u) << events.substr(0, 40);  // no chunk size line
  std::string text;
  for (const auto& d : t::sse_data(events))
    if (d != "[DONE]") text += json::parse(d)["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, " Once upon a");
  EXPECT_EQ(t::sse_data(events).back(), "[DONE]");
}

// Browser clients: a CORS preflight is answered for every route (with the headers the browser
// asks for: SDKs send their own), and every reply, streamed or not, carries the allowed origin.
TEST_F(HttpE2eTest, CorsPreflightAndAllowOriginOnEveryReply) {
  start();
  t::net::io_context ioc;
  auto preflight = [&](const std::string& target) {
    auto socket = t::connect_to(ioc, port());
    t::net::write(socket, t::net::buffer("OPTIONS " + target + " HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\n"
                                         "Access-Control-Request-Method: POST\r\n"
                                         "Access-Control-Request-Headers: authorization,content-type,x-stainless-os\r\n\r\n"));
    boost::beast::flat_buffer buffer;
    t::http::response<t::http::string_body> res;
    t::http::read(socket, buffer, res);
    return res;
  };
  auto ok = preflight("/v1/chat/completions");
  EXPECT_EQ(ok.result_int(), 204u);
  EXPECT_EQ(ok[t::http::field::access_control_allow_origin], "*");
  EXPECT_EQ(ok[t::http::field::access_control_allow_methods], "POST, OPTIONS");
  EXPECT_EQ(ok[t::http::field::access_control_allow_headers], "authorization,content-type,x-stainless-os");
  EXPECT_EQ(ok.count(t::http::field::content_length), 0u);
  EXPECT_EQ(preflight("/v1/nope").result_int(), 404u);
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/health").raw[t::http::field::access_control_allow_origin], "*");
  auto streamed = t::post(port(), "/v1/completions", R"({"prompt":"a","max_tokens":2,"stream":true})");
  EXPECT_EQ(streamed.raw[t::http::field::access_control_allow_origin], "*");
  EXPECT_EQ(t::post(port(), "/v1/completions", R"({"prompt":5})").raw[t::http::field::access_control_allow_origin], "*");
}

TEST_F(HttpE2eTest, NoCorsWithAnEmptyAllowedOrigin) {
  start({}, ServerConfig{.allowed_origin = ""});
  auto r = t::request(port(), t::http::verb::options, "/v1/completions");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.raw.count(t::http::field::access_control_allow_origin), 0u);
}

// With --api-key the model routes want "Authorization: Bearer <key>" (401 otherwise, the OpenAI
// error shape with code invalid_api_key); /health and /metrics stay open for probes and scrapers.
TEST_F(HttpE2eTest, ApiKeyGuardsTheModelRoutes) {
  ServerConfig config;
  config.api_key = "sk-test";
  start({}, config);
  const std::string body = R"({"prompt":"a","max_tokens":2})";
  for (const std::string auth : {"", "Bearer sk-tesT", "Bearer sk-test2", "sk-test", "Basic sk-test"}) {
    auto r = t::request(port(), t::http::verb::post, "/v1/completions", body, auth);
    EXPECT_EQ(r.status, 401u) << auth;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_api_key") << auth;
  }
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/v1/models").status, 401u);
  EXPECT_EQ(t::request(port(), t::http::verb::post, "/tokenize", R"({"prompt":"a"})").status, 401u);
  EXPECT_EQ(t::request(port(), t::http::verb::post, "/v1/completions", body, "Bearer sk-test").status, 200u);
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/v1/models", "", "Bearer sk-test").status, 200u);
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/health").status, 200u);
  EXPECT_EQ(t::request(port(), t::http::verb::get, "/metrics").status, 200u);
  EXPECT_EQ(engine_->submitted().size(), 1u);  // only the authorized completion reached the engine
}

TEST_F(HttpE2eTest, FullQueueGets429WithRetryAfter) {
  start({.max_running = 1, .max_waiting = 0, .paused = true});
  t::net::io_context ioc;
  auto busy = t::connect_to(ioc, port());
  t::net::write(busy, t::net::buffer(t::raw_post("/v1/completions", R"({"prompt":"a","stream":true})")));
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->num_live() == 1; }, 2000ms));
  auto r = t::post(port(), "/v1/completions", R"({"prompt":"b"})");
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(r.raw[t::http::field::retry_after], "1");
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "overloaded");
}

TEST_F(HttpE2eTest, TokenizeAndDetokenizeRoundTrip) {
  start();
  auto tok = json::parse(t::post(port(), "/tokenize", R"({"prompt":"ab"})").body);
  EXPECT_EQ(tok["tokens"], json::array({1, 'a' + 3, 'b' + 3}));
  EXPECT_EQ(tok["count"], 3);
  auto detok = json::parse(t::post(port(), "/detokenize", tok.dump()).body);
  EXPECT_EQ(detok["prompt"], "ab");
}

TEST_F(HttpE2eTest, KeepAliveAndPipelining) {
  start();
  t::net::io_context ioc;
  auto socket = t::connect_to(ioc, port());
  boost::beast::flat_buffer buffer;
  EXPECT_EQ(t::exchange(socket, buffer, t::http::verb::get, "/health").status, 200u);
  // Two requests written back to back: a stream, then a plain one; answers come in order.
  std::string both = t::raw_post("/v1/completions", R"({"prompt":"a","max_tokens":3,"stream":true})") +
                     t::raw_post("/v1/completions", R"({"prompt":"a","max_tokens":2})");
  t::net::write(socket, t::net::buffer(both));
  t::http::response<t::http::string_body> first, second;
  t::http::read(socket, buffer, first);
  t::http::read(socket, buffer, second);
  EXPECT_EQ(t::sse_data(first.body()).back(), "[DONE]");
  EXPECT_EQ(json::parse(second.body())["choices"][0]["text"], " Once upon");
}

TEST_F(HttpE2eTest, DisconnectMidStreamCancels) {
  start({.step_interval = 5ms});
  t::net::io_context ioc;
  auto socket = t::connect_to(ioc, port());
  t::net::write(socket, t::net::buffer(t::raw_post("/v1/completions", R"({"prompt":"a","max_tokens":200,"stream":true})")));
  std::string got(4096, '\0');
  std::size_t n = 0;
  while (got.substr(0, n).find("Once") == std::string::npos) n += socket.read_some(t::net::buffer(&got[n], got.size() - n));
  socket.close();
  EXPECT_TRUE(cancelled_soon());
}

TEST_F(HttpE2eTest, DisconnectWhileQueuedCancelsAndPingsKeepItAlive) {
  start({.paused = true}, ServerConfig{.ping_interval = 0.05});
  t::net::io_context ioc;
  auto socket = t::connect_to(ioc, port());
  t::net::write(socket, t::net::buffer(t::raw_post("/v1/completions", R"({"prompt":"a","stream":true})")));
  std::string got(4096, '\0');
  std::size_t n = 0;
  while (got.substr(0, n).find(": ping") == std::string::npos) n += socket.read_some(t::net::buffer(&got[n], got.size() - n));
  EXPECT_NE(got.find("text/event-stream"), std::string::npos);
  socket.close();
  EXPECT_TRUE(cancelled_soon());
}

TEST_F(HttpE2eTest, DisconnectDuringNonStreamedRequestCancels) {
  start({.paused = true});
  t::net::io_context ioc;
  auto socket = t::connect_to(ioc, port());
  t::net::write(socket, t::net::buffer(t::raw_post("/v1/completions", R"({"prompt":"a"})")));
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->num_live() == 1; }, 2000ms));
  socket.close();
  EXPECT_TRUE(cancelled_soon());
}

TEST_F(HttpE2eTest, ClientThatStopsReadingIsCutAfterStallTimeout) {
  FakeEngineOptions options{.script = {std::string(256 * 1024, 'z')}, .step_interval = 1ms, .context_length = 100000};
  start(options, ServerConfig{.stall_timeout = 0.3});
  t::net::io_context ioc;
  t::tcp::socket socket(ioc);
  socket.open(t::tcp::v4());
  socket.set_option(t::net::socket_base::receive_buffer_size(4096));
  socket.connect(t::tcp::endpoint(t::net::ip::make_address("127.0.0.1"), port()));
  t::net::write(socket, t::net::buffer(t::raw_post("/v1/completions", R"({"prompt":"a","max_tokens":5000,"stream":true})")));
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(cancelled_soon());  // never reads: cut once the socket buffers are full
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST_F(HttpE2eTest, FiveHundredTwelveConcurrentStreams) {
  start({.step_interval = 2ms, .max_running = 512});
  t::net::io_context ioc;
  std::vector<t::tcp::socket> sockets;
  std::string req = t::raw_post("/v1/completions", R"({"prompt":"a","max_tokens":8,"stream":true})");
  for (int i = 0; i < 512; ++i) {
    sockets.push_back(t::connect_to(ioc, port()));
    t::net::write(sockets.back(), t::net::buffer(req));
  }
  int done = 0;
  for (auto& s : sockets) {
    boost::beast::flat_buffer buffer;
    t::http::response<t::http::string_body> res;
    t::http::read(s, buffer, res);
    auto events = t::sse_data(res.body());
    done += !events.empty() && events.back() == "[DONE]";
  }
  EXPECT_EQ(done, 512);
}

TEST_F(HttpE2eTest, DrainLetsStreamsFinishThenRefuses) {
  start({.step_interval = 20ms});
  t::net::io_context ioc;
  auto streaming = t::connect_to(ioc, port());
  auto idle = t::connect_to(ioc, port());
  boost::beast::flat_buffer idle_buffer;
  EXPECT_EQ(t::exchange(idle, idle_buffer, t::http::verb::get, "/health").status, 200u);
  t::net::write(streaming, t::net::buffer(t::raw_post("/v1/completions", R"({"prompt":"a","max_tokens":20,"stream":true})")));
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->num_live() == 1; }, 2000ms));
  server_->shutdown();
  auto during = t::exchange(idle, idle_buffer, t::http::verb::post, "/v1/completions", R"({"prompt":"a"})");
  EXPECT_EQ(during.status, 503u);
  boost::beast::flat_buffer buffer;
  t::http::response<t::http::string_body> res;
  t::http::read(streaming, buffer, res);
  auto events = t::sse_data(res.body());
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(json::parse(events[events.size() - 2])["choices"][0]["finish_reason"], "length");
  server_->wait();
  EXPECT_TRUE(engine_->cancelled().empty());
}

TEST_F(HttpE2eTest, DrainTimeoutCancelsWithAnErrorEvent) {
  start({.step_interval = 20ms}, ServerConfig{.drain_timeout = 0.1});
  t::net::io_context ioc;
  auto streaming = t::connect_to(ioc, port());
  t::net::write(streaming, t::net::buffer(t::raw_post("/v1/completions", R"({"prompt":"a","max_tokens":200,"stream":true})")));
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->num_live() == 1; }, 2000ms));
  server_->shutdown();
  boost::beast::flat_buffer buffer;
  t::http::response<t::http::string_body> res;
  t::http::read(streaming, buffer, res);
  auto events = t::sse_data(res.body());
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_TRUE(json::parse(events[events.size() - 2]).contains("error"));
  server_->wait();
}

TEST(HttpLoadingTest, GenerationIs503UntilTheEngineIsSet) {
  Metrics metrics;
  auto server = Server::create(ServerConfig{.port = 0}, &metrics);
  ASSERT_TRUE(server.ok());
  (*server)->start(false);
  auto health = t::request((*server)->port(), t::http::verb::get, "/health");
  EXPECT_EQ(health.status, 503u);
  EXPECT_EQ(json::parse(health.body)["status"], "loading");
  EXPECT_EQ(t::post((*server)->port(), "/v1/completions", R"({"prompt":"a"})").status, 503u);
  (*server)->shutdown();
  (*server)->wait();
}

}  // namespace
}  // namespace ladle::server
