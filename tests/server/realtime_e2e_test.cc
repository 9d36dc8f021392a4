// The /v1/realtime WebSocket over loopback against FakeEngine, with Beast's own WebSocket client:
// a turn's events in order, several turns on one conversation (each prompt extends the last),
// one response at a time, response.cancel and close reaching the engine, every bad-frame class as
// an error event on a connection that keeps working, the size limits, and the two ways to send
// the API key.
#include <gtest/gtest.h>

#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "tests/server/fake_server.h"

namespace ladle::server::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeEngine;
using testing::FakeEngineOptions;
namespace websocket = boost::beast::websocket;

class Client {
 public:
  Client(unsigned short port, std::string subprotocol = "", std::string bearer = "")
      : ws_(ioc_) {
    ws_.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws_.set_option(websocket::stream_base::decorator([=](websocket::request_type& req) {
      if (!subprotocol.empty()) req.set(http::field::sec_websocket_protocol, subprotocol);
      if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
    }));
    ws_.handshake(response_, "127.0.0.1", "/v1/realtime");
  }
  void send(const json& event) { send_text(event.dump()); }
  void send_text(const std::string& text) {
    ws_.text(true);
    ws_.write(net::buffer(text));
  }
  void send_binary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(net::buffer(bytes));
  }
  json next() {
    boost::beast::flat_buffer b;
    ws_.read(b);
    return json::parse(boost::beast::buffers_to_string(b.data()));
  }
  // Events until (and including) the first of type `type`.
  std::vector<json> until(const std::string& type) {
    std::vector<json> out;
    do out.push_back(next());
    while (out.back()["type"] != type);
    return out;
  }
  websocket::response_type& response() { return response_; }
  websocket::stream<tcp::socket>& ws() { return ws_; }

 private:
  net::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
  websocket::response_type response_;
};

json user_item(const std::string& text) {
  return {{"type", "conversation.item.create"},
          {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", text}}}}}}};
}

std::string text_of(const std::vector<json>& events) {
  std::string text;
  for (const auto& e : events)
    if (e["type"] == "response.output_text.delta") text += e["delta"].get<std::string>();
  return text;
}

class RealtimeE2eTest : public FakeServerTest {};

TEST_F(RealtimeE2eTest, ATurnsEventsInOrderAndAConversationThatGrows) {
  start();
  Client c(port());
  EXPECT_EQ(c.next()["type"], "session.created");
  c.send({{"type", "session.update"}, {"session", {{"instructions", "Be brief."}, {"max_output_tokens", 4}}}});
  EXPECT_EQ(c.next()["type"], "session.updated");
  c.send(user_item("Hi"));
  const json created = c.next();
  EXPECT_EQ(created["type"], "conversation.item.created");
  EXPECT_EQ(created["item"]["role"], "user");
  c.send({{"type", "response.create"}, {"event_id", "c1"}});
  auto events = c.until("response.done");
  std::vector<std::string> types;
  for (const auto& e : events) types.push_back(e["type"]);
  ASSERT_GE(types.size(), 8u);
  EXPECT_EQ(types[0], "response.created");
  EXPECT_EQ(types[1], "response.output_item.added");
  EXPECT_EQ(types[2], "response.content_part.added");
  EXPECT_EQ(types[types.size() - 4], "response.output_text.done");
  EXPECT_EQ(types[types.size() - 3], "response.content_part.done");
  EXPECT_EQ(types[types.size() - 2], "response.output_item.done");
  EXPECT_EQ(text_of(events), " Once upon a time");
  const json& done = events.back()["response"];
  EXPECT_EQ(done["status"], "incomplete");
  EXPECT_EQ(done["usage"]["output_tokens"], 4);
  // A second turn: its prompt is the first one's, the answer, and the new message.
  c.send(user_item("More"));
  c.next();
  c.send({{"type", "response.create"}, {"response", {{"max_output_tokens", 2}}}});
  auto second = c.until("response.done");
  EXPECT_EQ(second.back()["response"]["usage"]["output_tokens"], 2);
  auto submitted = engine_->submitted();
  ASSERT_EQ(submitted.size(), 2u);
  auto text = [](const std::vector<TokenId>& t) {
    std::string s;
    for (std::size_t i = 1; i < t.size(); ++i) s += char(t[i] - 3);
    return s;
  };
  EXPECT_EQ(text(submitted[0].prompt_tokens), "System: Be brief.\nUser: Hi\nAssistant:");
  EXPECT_EQ(text(submitted[1].prompt_tokens),
            "System: Be brief.\nUser: Hi\nAssistant:  Once upon a time\nUser: More\nAssistant:");
}

TEST_F(RealtimeE2eTest, OneResponseAtATimeAndCancelReachesTheEngine) {
  start(FakeEngineOptions{.step_interval = 5ms});
  Client c(port());
  c.next();
  c.send(user_item("Hi"));
  c.next();
  c.send({{"type", "response.create"}});
  c.until("response.output_text.delta");
  c.send({{"type", "response.create"}, {"event_id", "again"}});
  json e;
  do e = c.next();
  while (e["type"] != "error");
  EXPECT_EQ(e["error"]["code"], "conversation_already_has_active_response");
  EXPECT_EQ(e["error"]["event_id"], "again");
  c.send({{"type", "response.cancel"}});
  auto rest = c.until("response.done");
  EXPECT_EQ(rest.back()["response"]["status"], "cancelled");
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->cancelled().size() == 1 && engine_->num_live() == 0; }, 3000ms));
  c.send({{"type", "response.cancel"}, {"event_id", "none"}});
  EXPECT_EQ(c.next()["error"]["code"], "response_cancel_not_active");
  c.send({{"type", "response.create"}, {"response", {{"max_output_tokens", 1}}}});  // the connection goes on
  EXPECT_EQ(c.until("response.done").back()["response"]["status"], "incomplete");
}

TEST_F(RealtimeE2eTest, ClosingMidStreamCancels) {
  start(FakeEngineOptions{.step_interval = 5ms});
  {
    Client c(port());
    c.next();
    c.send(user_item("Hi"));
    c.next();
    c.send({{"type", "response.create"}});
    c.until("response.output_text.delta");
    c.ws().next_layer().close();
  }
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->cancelled().size() == 1 && engine_->num_live() == 0; }, 3000ms));
}

TEST_F(RealtimeE2eTest, BadFramesGetErrorEventsAndTheConnectionKeepsWorking) {
  ServerConfig config;
  config.max_body = 1024;
  start({}, config);
  Client c(port());
  c.next();
  const std::vector<std::pair<std::string, std::string>> texts = {
      {"not json", "invalid_json"},
      {"[1]", "invalid_json"},
      {R"({"event_id":"e1"})", "missing_field"},
      {R"({"type":"input_audio_buffer.append","event_id":"e2"})", "unknown_event"},
      {R"({"type":"conversation.item.create","event_id":"e3"})", "missing_field"},
      {R"({"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_audio"}]}})",
       "unsupported"},
      {R"({"type":"session.update","session":{"temperature":9}})", "invalid_value"},
      {R"({"type":"session.update","session":{"tools":[]}})", "unsupported"},
      {R"({"type":"conversation.item.delete","item_id":"nope"})", "item_not_found"},
      {std::string(2000, ' ') + "{}", "message_too_large"},
  };
  for (const auto& [text, code] : texts) {
    SCOPED_TRACE(text.substr(0, 80));
    c.send_text(text);
    const json e = c.next();
    EXPECT_EQ(e["type"], "error") << text;
    EXPECT_EQ(e["error"]["code"], code) << text.substr(0, 100);
  }
  c.send_binary("\x01\x02");
  EXPECT_EQ(c.next()["error"]["code"], "invalid_frame");
  const json bad_id = [&] {
    c.send_text(R"({"type":"nope","event_id":"mine"})");
    return c.next();
  }();
  EXPECT_EQ(bad_id["error"]["event_id"], "mine");
  c.send({{"type", "session.update"}, {"session", {{"instructions", "ok"}}}});
  EXPECT_EQ(c.next()["type"], "session.updated");
  // Past four times --max-body the frame is a protocol violation: close 1009 (too big).
  c.send_text(std::string(5000, 'x'));
  boost::beast::flat_buffer b;
  boost::beast::error_code ec;
  c.ws().read(b, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c.ws().reason().code, websocket::close_code::too_big);
  // Invalid UTF-8 in a text frame is a protocol violation too: close 1007 (bad payload).
  Client d(port());
  d.next();
  d.send_text("{\"type\":\"session.update\",\"session\":{\"instructions\":\"\xff\"}}");
  d.ws().read(b, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(d.ws().reason().code, websocket::close_code::bad_payload);
  EXPECT_EQ(post_json("/v1/completions", {{"prompt", "a"}, {"max_tokens", 1}}).status, 200u);  // the server goes on
}

TEST_F(RealtimeE2eTest, TheKeyByBearerOrSubprotocolAndTheChosenSubprotocolEchoed) {
  ServerConfig config;
  config.api_key = "sk-rt";
  start({}, config);
  EXPECT_THROW(Client c(port()), boost::system::system_error);
  EXPECT_THROW(Client c(port(), "realtime, openai-insecure-api-key.wrong"), boost::system::system_error);
  Client by_protocol(port(), "realtime, openai-insecure-api-key.sk-rt");
  EXPECT_EQ(by_protocol.response()[http::field::sec_websocket_protocol], "realtime");
  EXPECT_EQ(by_protocol.next()["type"], "session.created");
  Client by_bearer(port(), "", "sk-rt");
  EXPECT_EQ(by_bearer.next()["type"], "session.created");
  auto plain = call(http::verb::get, "/v1/realtime", "", {{"Authorization", "Bearer sk-rt"}});
  EXPECT_EQ(plain.status, 426u);
}

}  // namespace
}  // namespace ladle::server::test
