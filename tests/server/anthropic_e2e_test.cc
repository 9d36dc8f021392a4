// The Anthropic Messages API over loopback against FakeEngine: the event stream's order and
// framing, pings while queued, stop reasons, the Message object, auth headers, request-id, every
// bad-input class in Anthropic's error shape, 429, disconnect → cancel, the billing-header block.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/server/fake_server.h"

namespace ladle::server::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeEngine;
using testing::FakeEngineOptions;

json messages_body(int max_tokens = 6, bool stream = true) {
  return {{"model", "claude-x"},
          {"max_tokens", max_tokens},
          {"stream", stream},
          {"messages", json::array({{{"role", "user"}, {"content", "Hi"}}})}};
}

class AnthropicE2eTest : public FakeServerTest {};

TEST_F(AnthropicE2eTest, StreamedEventsInOrderEachWithItsEventLine) {
  start();
  auto r = post_json("/v1/messages", messages_body(6));
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.raw[http::field::content_type], "text/event-stream");
  EXPECT_FALSE(r.raw["request-id"].empty());
  auto frames = sse_frames(r.body);
  ASSERT_GE(frames.size(), 6u);
  std::vector<std::string> names;
  std::string text;
  for (const auto& f : frames) {
    ASSERT_FALSE(f.event.empty()) << f.data;  // the SDK drops frames without an event line
    const json d = json::parse(f.data);
    EXPECT_EQ(d["type"], f.event);
    if (f.event == "ping") continue;
    names.push_back(f.event);
    if (f.event == "content_block_delta") {
      EXPECT_EQ(d["delta"]["type"], "text_delta");
      text += d["delta"]["text"].get<std::string>();
    }
    if (f.event == "message_start") {
      EXPECT_EQ(d["message"]["role"], "assistant");
      EXPECT_EQ(d["message"]["usage"]["input_tokens"], 20);  // BOS + "User: Hi\nAssistant:", a token a byte
      EXPECT_EQ(d["message"]["usage"]["cache_read_input_tokens"], 0);
      EXPECT_EQ(d["message"]["usage"]["output_tokens"], 0);
    }
    if (f.event == "message_delta") {
      EXPECT_EQ(d["delta"]["stop_reason"], "max_tokens");
      EXPECT_EQ(d["delta"]["stop_sequence"], nullptr);
      EXPECT_EQ(d["usage"]["output_tokens"], 6);
    }
  }
  EXPECT_EQ(text, " Once upon a time Once upon");
  ASSERT_GE(names.size(), 6u);
  EXPECT_EQ(names[0], "message_start");
  EXPECT_EQ(names[1], "content_block_start");
  for (std::size_t i = 2; i + 3 < names.size(); ++i) EXPECT_EQ(names[i], "content_block_delta");
  EXPECT_EQ(names[names.size() - 3], "content_block_stop");
  EXPECT_EQ(names[names.size() - 2], "message_delta");
  EXPECT_EQ(names.back(), "message_stop");
}

TEST_F(AnthropicE2eTest, PingEventsWhileQueuedThenMessageStartAtAdmission) {
  ServerConfig config;
  config.ping_interval = 0.02;
  start(FakeEngineOptions{.paused = true}, config);
  std::thread resume([&] {
    FakeEngine::wait_for([&] { return engine_->num_live() == 1; }, 3000ms);
    std::this_thread::sleep_for(150ms);  // long enough for several ping intervals
    engine_->set_paused(false);
  });
  auto r = post_json("/v1/messages", messages_body(2));
  resume.join();
  auto frames = sse_frames(r.body);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames[0].event, "ping");
  EXPECT_EQ(json::parse(frames[0].data), json({{"type", "ping"}}));
  std::size_t start_at = 0;
  while (start_at < frames.size() && frames[start_at].event == "ping") ++start_at;
  ASSERT_LT(start_at, frames.size());
  EXPECT_EQ(frames[start_at].event, "message_start");  // sent at admission, before any text
}

TEST_F(AnthropicE2eTest, StopSequenceReportsTheMatchedString) {
  start();
  json body = messages_body(20, false);
  body["stop_sequences"] = {"zzz", "a ti"};
  auto r = post_json("/v1/messages", body);
  ASSERT_EQ(r.status, 200u) << r.body;
  const json m = json::parse(r.body);
  EXPECT_EQ(m["type"], "message");
  EXPECT_EQ(m["stop_reason"], "stop_sequence");
  EXPECT_EQ(m["stop_sequence"], "a ti");
  EXPECT_EQ(m["content"][0]["type"], "text");
  EXPECT_EQ(m["content"][0]["text"], " Once upon ");
  body["stream"] = true;
  auto s = post_json("/v1/messages", body);
  for (const auto& f : sse_frames(s.body))
    if (f.event == "message_delta") {
      EXPECT_EQ(json::parse(f.data)["delta"]["stop_reason"], "stop_sequence");
      EXPECT_EQ(json::parse(f.data)["delta"]["stop_sequence"], "a ti");
    }
}

TEST_F(AnthropicE2eTest, ContextWindowAndMaxTokensAreTold) {
  start(FakeEngineOptions{.context_length = 24});
  auto r = post_json("/v1/messages", messages_body(100, false));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(json::parse(r.body)["stop_reason"], "model_context_window_exceeded");
  auto m = post_json("/v1/messages", messages_body(2, false));
  EXPECT_EQ(json::parse(m.body)["stop_reason"], "max_tokens");
}

TEST_F(AnthropicE2eTest, NonStreamedMessageAndCountTokensAgree) {
  start();
  auto r = post_json("/v1/messages?beta=true", messages_body(4, false));
  ASSERT_EQ(r.status, 200u);
  EXPECT_FALSE(r.raw["request-id"].empty());
  const json m = json::parse(r.body);
  EXPECT_EQ(m["id"].get<std::string>().rfind("msg_", 0), 0u);
  EXPECT_EQ(m["model"], "fake-model");
  EXPECT_EQ(m["usage"]["output_tokens"], 4);
  json count = messages_body();
  count.erase("max_tokens");
  count.erase("stream");
  auto c = post_json("/v1/messages/count_tokens", count);
  ASSERT_EQ(c.status, 200u) << c.body;
  EXPECT_EQ(json::parse(c.body)["input_tokens"],
            m["usage"]["input_tokens"].get<int>() + m["usage"]["cache_read_input_tokens"].get<int>());
}

TEST_F(AnthropicE2eTest, BillingHeaderBlockIsDroppedBeforeTokenizing) {
  start();
  json plain = messages_body(1, false);
  plain["system"] = "Be brief.";
  json billed = plain;
  billed["system"] = {{{"type", "text"}, {"text", "x-anthropic-billing-header: cc_version=1.0.81; cch=4f2a"}},
                      {{"type", "text"}, {"text", "Be brief."}}};
  ASSERT_EQ(post_json("/v1/messages", plain).status, 200u);
  ASSERT_EQ(post_json("/v1/messages", billed).status, 200u);
  auto submitted = engine_->submitted();
  ASSERT_EQ(submitted.size(), 2u);
  EXPECT_EQ(submitted[0].prompt_tokens, submitted[1].prompt_tokens);
}

TEST_F(AnthropicE2eTest, ApiKeyByXApiKeyOrBearerAndErrorsInAnthropicShape) {
  ServerConfig config;
  config.api_key = "sk-ant-test";
  start({}, config);
  auto none = post_json("/v1/messages", messages_body(1, false));
  EXPECT_EQ(none.status, 401u);
  const json e = json::parse(none.body);
  EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(e["error"]["type"], "authentication_error");
  EXPECT_EQ(e["request_id"], none.raw["request-id"]);
  EXPECT_EQ(post_json("/v1/messages", messages_body(1, false), {{"x-api-key", "wrong"}}).status, 401u);
  EXPECT_EQ(post_json("/v1/messages", messages_body(1, false), {{"x-api-key", "sk-ant-test"}}).status, 200u);
  EXPECT_EQ(post_json("/v1/messages", messages_body(1, false), {{"Authorization", "Bearer sk-ant-test"}}).status, 200u);
  auto missing = call(http::verb::get, "/v1/messages", "", {{"x-api-key", "sk-ant-test"}});
  EXPECT_EQ(missing.status, 405u);
  EXPECT_EQ(json::parse(missing.body)["type"], "error");
}

TEST_F(AnthropicE2eTest, EveryBadInputIsA400InAnthropicShapeAndTheServerKeepsServing) {
  start();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", ""},
      {"[1,2]", ""},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"m","max_tokens":"5","messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]})", "max_tokens"},
      {R"({"max_tokens":5,"messages":[{"role":"user","content":"x"}]})", "model"},
      {R"({"model":"m","max_tokens":5,"messages":[]})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"x"}]})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"t"}]})", "tools"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled","budget_tokens":1024}})", "thinking"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"max_token":5})", "max_token"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"temperature":1.5})", "temperature"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"stop_sequences":"x"})", "stop_sequences"},
      {"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}", ""},
  };
  for (const auto& [body, param] : cases) {
    auto r = call(http::verb::post, "/v1/messages", body);
    EXPECT_EQ(r.status, 400u) << body;
    const json e = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << r.body;
    EXPECT_EQ(e["type"], "error") << body;
    EXPECT_EQ(e["error"]["type"], "invalid_request_error") << body;
    if (!param.empty()) {
      EXPECT_NE(e["error"]["message"].get<std::string>().find(param), std::string::npos) << r.body;
    }
    EXPECT_FALSE(r.raw["request-id"].empty()) << body;
  }
  EXPECT_EQ(post_json("/v1/messages", messages_body(1, false)).status, 200u);
  EXPECT_TRUE(engine_->submitted().size() == 1u);
}

TEST_F(AnthropicE2eTest, QueueFullIsRateLimitErrorWithRetryAfter) {
  start(FakeEngineOptions{.max_running = 1, .max_waiting = 0, .paused = true});
  std::thread first([&] { post_json("/v1/messages", messages_body(1, false)); });
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->num_live() == 1; }, 3000ms));
  auto r = post_json("/v1/messages", messages_body(1, false));
  EXPECT_EQ(r.status, 429u);
  EXPECT_EQ(json::parse(r.body)["error"]["type"], "rate_limit_error");
  EXPECT_EQ(r.raw["retry-after"], "1");
  engine_->set_paused(false);
  first.join();
}

TEST_F(AnthropicE2eTest, DisconnectMidStreamCancelsTheRequest) {
  start(FakeEngineOptions{.step_interval = 5ms});
  net::io_context ioc;
  auto socket = connect_to(ioc, port());
  net::write(socket, net::buffer(raw_post("/v1/messages", messages_body(10000).dump())));
  std::string got;
  char buf[4096];
  while (got.find("content_block_delta") == std::string::npos) got.append(buf, socket.read_some(net::buffer(buf)));
  socket.close();
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->cancelled().size() == 1 && engine_->num_live() == 0; }, 3000ms));
}

}  // namespace
}  // namespace ladle::server::test
