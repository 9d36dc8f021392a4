// The golden end-to-end test of `ladle serve`: an in-process server on the real LlmEngine with
// stories260K, over loopback. Streamed and non-streamed greedy output must equal what the engine
// produces for the same request without HTTP, and disconnects must free their KV blocks.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <nlohmann/json.hpp>

#include "model/checkpoint_writer.h"
#include "model/tokenizer_writer.h"
#include "scheduler/llm_engine.h"
#include "server/metrics.h"
#include "server/server.h"
#include "tests/server/test_client.h"
#include "tests/testing/fake_engine.h"

namespace ladle::server {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace t = test;

// Collects one request's output straight from the engine.
class CollectingSink final : public scheduler::TokenSink {
 public:
  void on_delta(std::string_view text, int) override {
    std::lock_guard lock(mu_);
    text_ += text;
  }
  void on_finish(const scheduler::Finish&) override {
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  std::string wait() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 30s, [&] { return done_; });
    return text_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  bool done_ = false;
};

class RealModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scheduler::EngineConfig config;
    config.model_path = LADLE_MODELS_DIR "/stories260K.bin";
    config.tokenizer_path = LADLE_MODELS_DIR "/tok512.bin";
    config.max_running = 4;
    configure(config);
    auto engine = scheduler::LlmEngine::create(config, &metrics_);
    ASSERT_TRUE(engine.ok()) << engine.error().message;
    engine_ = std::move(*engine);
    engine_->start();
    auto server = Server::create(ServerConfig{.port = 0}, &metrics_);
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_ = std::move(*server);
    server_->start(false);
    server_->set_engine(engine_.get(), [e = engine_.get()] { e->stop(); });
  }
  virtual void configure(scheduler::EngineConfig&) {}
  void TearDown() override {
    if (server_) {
      server_->shutdown();
      server_->wait();
    }
    if (engine_) engine_->stop();
    engine_.reset();  // before the server's io_context, which the sinks' strands belong to
    server_.reset();
  }
  std::string engine_greedy(const std::string& prompt, int max_tokens) {
    auto tokens = engine_->tokenize(prompt, true, true);
    EXPECT_TRUE(tokens.ok());
    scheduler::GenerationRequest req{*tokens, {}};
    req.params.temperature = 0;
    req.params.max_tokens = max_tokens;
    auto sink = std::make_shared<CollectingSink>();
    EXPECT_TRUE(engine_->submit(req, sink).ok());
    return sink->wait();
  }
  bool engine_idle(std::chrono::milliseconds within = 2000ms) {
    return testing::FakeEngine::wait_for([&] {
      auto g = engine_->gauges();
      return g.num_running == 0 && g.num_waiting == 0 && g.kv_blocks_used == 0;
    }, within);
  }
  static std::string streamed_text(const std::string& body, bool chat) {
    std::string text;
    for (const auto& e : t::sse_data(body)) {
      if (e == "[DONE]") break;
      auto c = json::parse(e)["choices"];
      if (c.empty()) continue;
      auto& piece = chat ? c[0]["delta"]["content"] : c[0]["text"];
      if (piece.is_string()) text += piece.get<std::string>();
    }
    return text;
  }

  Metrics metrics_;
  std::unique_ptr<scheduler::LlmEngine> engine_;
  std::unique_ptr<Server> server_;
};

TEST_F(RealModelTest, CompletionsEqualTheEnginesGreedyOutput) {
  std::string expected = engine_greedy("Once upon a time", 59);
  // run.c's reference continuation (shared/models/REFERENCE.md, -n 64 trace).
  EXPECT_EQ(expected.rfind(", there was a little girl named Lily.", 0), 0u) << expected;
  std::string body = R"({"prompt":"Once upon a time","max_tokens":59,"temperature":0)";
  auto plain = t::post(server_->port(), "/v1/completions", body + "}");
  ASSERT_EQ(plain.status, 200u) << plain.body;
  EXPECT_EQ(json::parse(plain.body)["choices"][0]["text"], expected);
  auto streamed = t::post(server_->port(), "/v1/completions", body + R"(,"stream":true})");
  ASSERT_EQ(streamed.status, 200u);
  EXPECT_EQ(streamed_text(streamed.body, false), expected);
  EXPECT_EQ(t::sse_data(streamed.body).back(), "[DONE]");
}

// echo (completions): the reply starts with the prompt as sent, and with logprobs it lists the
// prompt's tokens (after BOS) with their log-probabilities, then the answer's, offsets running on;
// streamed, the prompt comes first and the listings concatenate to the same.
TEST_F(RealModelTest, EchoListsThePromptAndItsLogprobs) {
  const std::string body = R"({"prompt":"Once upon a time","max_tokens":6,"temperature":0,"echo":true,"logprobs":2)";
  auto plain = t::post(server_->port(), "/v1/completions", body + "}");
  ASSERT_EQ(plain.status, 200u) << plain.body;
  const json choice = json::parse(plain.body)["choices"][0];
  const std::string text = choice["text"];
  ASSERT_EQ(text.rfind("Once upon a time", 0), 0u);
  EXPECT_EQ(text.substr(16), engine_greedy("Once upon a time", 6));
  const json& lp = choice["logprobs"];
  const int prompt_tokens = json::parse(plain.body)["usage"]["prompt_tokens"];
  ASSERT_EQ(lp["tokens"].size(), std::size_t(prompt_tokens - 1 + 6));  // BOS is not listed
  std::size_t offset = 0;
  for (std::size_t i = 0; i < lp["tokens"].size(); ++i) {
    ASSERT_TRUE(lp["token_logprobs"][i].is_number()) << i;  // the prompt starts with BOS: all scored
    EXPECT_LE(lp["token_logprobs"][i].get<double>(), 0.0);
    EXPECT_EQ(lp["top_logprobs"][i].size(), 2u);
    EXPECT_EQ(lp["text_offset"][i], offset);
    offset += lp["tokens"][i].get<std::string>().size();
  }
  std::string joined;
  for (const auto& tok : lp["tokens"]) joined += tok.get<std::string>();
  EXPECT_EQ(joined, " " + text);  // the tokenizer's dummy-prefix space before the first word
  auto streamed = t::post(server_->port(), "/v1/completions", body + R"(,"stream":true})");
  std::string streamed_text;
  json streamed_tokens = json::array();
  for (const auto& e : t::sse_data(streamed.body)) {
    if (e == "[DONE]") break;
    const json c = json::parse(e)["choices"][0];
    streamed_text += c["text"].get<std::string>();
    if (c["logprobs"].is_object())
      for (const auto& tok : c["logprobs"]["tokens"]) streamed_tokens.push_back(tok);
  }
  EXPECT_EQ(streamed_text, text);
  EXPECT_EQ(streamed_tokens, lp["tokens"]);
}

TEST_F(RealModelTest, ChatStreamedEqualsNonStreamed) {
  std::string body = R"({"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":40,"temperature":0)";
  auto plain = t::post(server_->port(), "/v1/chat/completions", body + "}");
  ASSERT_EQ(plain.status, 200u) << plain.body;
  std::string text = json::parse(plain.body)["choices"][0]["message"]["content"];
  EXPECT_EQ(text, engine_greedy("User: Tell me a story\nAssistant:", 40));
  auto streamed = t::post(server_->port(), "/v1/chat/completions", body + R"(,"stream":true})");
  EXPECT_EQ(streamed_text(streamed.body, true), text);
}

// NOTE(test): cancellation must be proven, not assumed: stories260K finishes a request within
// milliseconds, so "the engine is idle afterwards" holds with cancellation deleted. These run on a
// synthetic model written at test time (stories15M's width and depth, a 2048-token vocabulary, a
// 1024-token context: about a millisecond a token, a second or more for the request) and check
// that the request finished as cancelled, with far fewer tokens generated than it asked for.
class SlowModelTest : public RealModelTest {
 protected:
  static constexpr int kMaxTokens = 1000;
  void configure(scheduler::EngineConfig& config) override {
    const std::string dir = ::testing::TempDir();
    config.model_path = dir + "/ladle_slow_model.bin";
    config.tokenizer_path = dir + "/ladle_slow_tokenizer.bin";
    config.max_batched_tokens = 128;  // a short warm-up step (sanitizer builds)
    const model::ModelConfig shape{288, 768, 6, 6, 6, 2048, 1024};
    // Written beside and renamed into place, so test processes running at once do not collide.
    ASSERT_TRUE(model::write_synthetic_checkpoint(config.model_path, shape, 7).ok());
    ASSERT_TRUE(model::write_synthetic_tokenizer(config.tokenizer_path, shape.vocab_size).ok());
  }
  double metric(const std::string& series) {
    const std::string text = metrics_.serialize(), key = "\n" + series + " ";  // a sample, not # HELP
    const auto pos = text.find(key);
    EXPECT_NE(pos, std::string::npos) << series;
    return pos == std::string::npos ? -1 : std::stod(text.substr(pos + key.size()));
  }
  static std::string long_request() {
    return R"({"prompt":"Once","max_tokens":)" + std::to_string(kMaxTokens) + R"(,"ignore_eos":true,"stream":true})";
  }
};

TEST_F(SlowModelTest, DisconnectMidStreamCancelsTheRequest) {
  t::net::io_context ioc;
  auto socket = t::connect_to(ioc, server_->port());
  t::net::write(socket, t::net::buffer(t::raw_post("/v1/completions", long_request())));
  std::string got(8192, '\0');
  std::size_t n = 0;
  while (got.substr(0, n).find("\"text\"") == std::string::npos) n += socket.read_some(t::net::buffer(&got[n], got.size() - n));
  socket.close();
  EXPECT_TRUE(engine_idle(10000ms));
  EXPECT_EQ(metric(R"(ladle_requests_finished_total{reason="cancelled"})"), 1.0);
  EXPECT_EQ(metric(R"(ladle_requests_finished_total{reason="length"})"), 0.0);
  EXPECT_LT(metric("ladle_generation_tokens_total"), kMaxTokens / 2);
}

TEST_F(SlowModelTest, DisconnectWhileQueuedCancelsTheRequests) {
  t::net::io_context ioc;
  std::vector<t::tcp::socket> sockets;
  for (int i = 0; i < 6; ++i) {  // max_running is 4: two of them wait
    sockets.push_back(t::connect_to(ioc, server_->port()));
    t::net::write(sockets.back(), t::net::buffer(t::raw_post("/v1/completions", long_request())));
  }
  ASSERT_TRUE(testing::FakeEngine::wait_for([&] { return engine_->gauges().num_waiting == 2; }, 5000ms));
  for (auto& s : sockets) s.close();
  EXPECT_TRUE(engine_idle(10000ms));
  EXPECT_EQ(metric(R"(ladle_requests_finished_total{reason="cancelled"})"), 6.0);
  EXPECT_EQ(metric(R"(ladle_requests_finished_total{reason="length"})"), 0.0);
  EXPECT_LT(metric("ladle_generation_tokens_total"), 4 * kMaxTokens / 2);
  // The two that waited never got a token: at most the four running ones produced any.
  EXPECT_LE(metric("ladle_time_to_first_token_seconds_count"), 4.0);
}

// Seeded random traffic, three connections at a time: streamed and plain completions and chats
// (some with stop strings, usage chunks or invalid fields), each read to the end, dropped after a
// few bytes, reset, cut off mid-request, or pipelined behind another. Every reply read whole is a
// 200 that ends properly or a 400 with an OpenAI error; afterwards nothing is left running, queued
// or holding KV blocks, and the server still answers exactly as the engine does.
TEST_F(RealModelTest, RandomTrafficLeavesNothingBehind) {
  std::mt19937 rng(2026);
  auto pick = [&](int n) { return int(rng() % unsigned(n)); };
  const char* stops[] = {"the", "\n", "Lily", "."};
  // One raw request, to either endpoint; `stream` says whether it asked for SSE.
  auto random_request = [&](bool& stream) {
    const bool chat = pick(3) == 0;
    stream = pick(3) != 0;
    json b = {{"max_tokens", 1 + pick(80)}, {"stream", stream}};
    if (chat) b["messages"] = {{{"role", "user"}, {"content", "Tell me a story"}}};
    else b["prompt"] = pick(2) ? "Once upon a time" : "Lily and Tom went to the park";
    if (pick(3) == 0) b["stop"] = stops[pick(4)];
    if (pick(4) == 0) b["ignore_eos"] = true;
    if (stream && pick(3) == 0) b["stream_options"] = {{"include_usage", true}};
    if (pick(8) == 0) b["temperature"] = pick(2) ? json(-1) : json("hot");  // invalid: a 400
    return t::raw_post(chat ? "/v1/chat/completions" : "/v1/completions", b.dump());
  };
  auto check_whole = [&](const t::http::response<t::http::string_body>& r, bool stream) {
    if (r.result_int() == 400) {
      auto e = json::parse(r.body(), nullptr, false);
      EXPECT_TRUE(e.contains("error") && e["error"]["message"].is_string()) << r.body();
      return;
    }
    ASSERT_EQ(r.result_int(), 200u) << r.body();
    if (stream) EXPECT_EQ(t::sse_data(r.body()).back(), "[DONE]");
    else EXPECT_TRUE(json::parse(r.body())["choices"].is_array()) << r.body();
  };
  for (int round = 0; round < 40; ++round) {
    t::net::io_context ioc;
    struct Conn {
      t::tcp::socket socket;
      int action;
      bool stream[2];
      int requests;
    };
    std::vector<Conn> conns;
    for (int c = 0; c < 3; ++c) {
      Conn conn{t::connect_to(ioc, server_->port()), pick(5), {false, false}, 1};
      std::string req = random_request(conn.stream[0]);
      if (conn.action == 4) {  // pipelined: a second request behind the first
        req += random_request(conn.stream[1]);
        conn.requests = 2;
      }
      if (conn.action == 3) req.resize(1 + pick(int(req.size()) - 1));  // cut off mid-request
      t::net::write(conn.socket, t::net::buffer(req));
      conns.push_back(std::move(conn));
    }
    for (auto& conn : conns) {
      switch (conn.action) {
        case 0:
        case 4: {  // read every reply whole
          boost::beast::flat_buffer buffer;
          for (int i = 0; i < conn.requests; ++i) {
            t::http::response<t::http::string_body> reply;
            t::http::read(conn.socket, buffer, reply);
            check_whole(reply, conn.stream[i]);
          }
          break;
        }
        case 1: {  // read whatever the first bytes are, then leave
          std::string got(1 + pick(600), '\0');
          boost::system::error_code ec;
          conn.socket.read_some(t::net::buffer(got), ec);
          conn.socket.close();
          break;
        }
        case 2:  // reset at once
          conn.socket.set_option(t::net::socket_base::linger(true, 0));
          conn.socket.close();
          break;
        default:  // cut off mid-request
          conn.socket.close();
          break;
      }
    }
  }
  EXPECT_TRUE(engine_idle(5000ms));
  const std::string expected = engine_greedy("Once upon a time", 30);
  auto plain = t::post(server_->port(), "/v1/completions", R"({"prompt":"Once upon a time","max_tokens":30,"temperature":0})");
  ASSERT_EQ(plain.status, 200u) << plain.body;
  EXPECT_EQ(json::parse(plain.body)["choices"][0]["text"], expected);
}

// A prefill of some 400 tokens at 4 tokens a step takes ~100 steps: the client leaves in the middle.
// NOTE(test): on stories260K the whole prefill took a few milliseconds, and the close came too
// late about once in a hundred runs beside another test process; on the slow synthetic model the
// same prefill takes a good fraction of a second, which no scheduling hiccup on a loaded 2-core
// machine bridges.
class SlowPrefillTest : public SlowModelTest {
 protected:
  void configure(scheduler::EngineConfig& config) override {
    SlowModelTest::configure(config);
    config.max_batched_tokens = 4;
  }
};

TEST_F(SlowPrefillTest, DisconnectDuringLongPrefillFreesEverything) {
  std::string prompt;
  for (int i = 0; i < 16; ++i) prompt += "Lily and Tom went to the park to play with a big red ball. ";
  const std::size_t n = engine_->tokenize(prompt, true, true)->size();
  ASSERT_TRUE(n > 250 && n < 1000) << n;
  t::net::io_context ioc;
  auto socket = t::connect_to(ioc, server_->port());
  json req = {{"prompt", prompt}, {"max_tokens", 50}, {"stream", true}};
  t::net::write(socket, t::net::buffer(t::raw_post("/v1/completions", req.dump())));
  // Prefill has begun once the request holds KV blocks; no token exists before it ends.
  ASSERT_TRUE(testing::FakeEngine::wait_for([&] { return engine_->gauges().kv_blocks_used >= 4; }, 10000ms));
  socket.close();
  EXPECT_TRUE(engine_idle(10000ms));
  EXPECT_EQ(metric("ladle_generation_tokens_total"), 0.0) << "a token was generated";
  EXPECT_EQ(metric(R"(ladle_requests_finished_total{reason="cancelled"})"), 1.0);
}

}  // namespace
}  // namespace ladle::server
