// The OpenAI Responses API over loopback against FakeEngine: the event stream (order, contiguous
// sequence numbers, SSE ids), background responses that outlive their connection, resume after
// any sequence number (query or Last-Event-ID) with exact replay, cancel, delete, the bounds, and
// bad input in OpenAI's error shape.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/background_store.h"
#include "tests/server/fake_server.h"

namespace ladle::server::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeEngine;
using testing::FakeEngineOptions;

json responses_body(int max_output_tokens, bool stream, bool background = false) {
  return {{"model", "m"}, {"input", "Hi"}, {"max_output_tokens", max_output_tokens}, {"stream", stream},
          {"background", background}};
}

// The text of the output_text.delta events among `frames`.
std::string delta_text(const std::vector<Frame>& frames) {
  std::string text;
  for (const auto& f : frames)
    if (f.event == "response.output_text.delta") text += json::parse(f.data)["delta"].get<std::string>();
  return text;
}

class ResponsesE2eTest : public FakeServerTest {
 protected:
  std::string create_background(int max_output_tokens) {
    auto r = post_json("/v1/responses", responses_body(max_output_tokens, false, true));
    EXPECT_EQ(r.status, 200u) << r.body;
    const json j = json::parse(r.body);
    EXPECT_TRUE(j["status"] == "queued" || j["status"] == "in_progress");
    return j["id"];
  }
  json wait_done(const std::string& id) {
    json j;
    FakeEngine::wait_for([&] {
      j = json::parse(call(http::verb::get, "/v1/responses/" + id).body);
      return j["status"] != "queued" && j["status"] != "in_progress";
    }, 5000ms);
    return j;
  }
};

TEST_F(ResponsesE2eTest, StreamedEventsInOrderWithContiguousSequenceNumbers) {
  start();
  auto r = post_json("/v1/responses", responses_body(4, true));
  ASSERT_EQ(r.status, 200u);
  auto frames = sse_frames(r.body);
  ASSERT_GE(frames.size(), 9u);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const json d = json::parse(frames[i].data);
    EXPECT_EQ(d["sequence_number"], i);
    EXPECT_EQ(frames[i].id, static_cast<long long>(i));
    EXPECT_EQ(d["type"], frames[i].event);
  }
  const std::vector<std::string> head = {"response.created", "response.in_progress", "response.output_item.added",
                                         "response.content_part.added"};
  for (std::size_t i = 0; i < head.size(); ++i) EXPECT_EQ(frames[i].event, head[i]);
  const std::vector<std::string> tail = {"response.output_text.done", "response.content_part.done",
                                         "response.output_item.done", "response.incomplete"};
  for (std::size_t i = 0; i < tail.size(); ++i) EXPECT_EQ(frames[frames.size() - 4 + i].event, tail[i]);
  EXPECT_EQ(delta_text(frames), " Once upon a time");
  const json last = json::parse(frames.back().data)["response"];
  EXPECT_EQ(last["status"], "incomplete");
  EXPECT_EQ(last["incomplete_details"]["reason"], "max_output_tokens");
  EXPECT_EQ(last["output"][0]["content"][0]["text"], " Once upon a time");
  EXPECT_EQ(last["usage"]["output_tokens"], 4);
  EXPECT_EQ(last["usage"]["input_tokens_details"]["cached_tokens"], 0);
  EXPECT_EQ(json::parse(frames[4].data)["logprobs"], json::array());
}

TEST_F(ResponsesE2eTest, NonStreamedResponseIsTheFinalSnapshot) {
  start();
  json body = responses_body(3, false);
  body["instructions"] = "Be brief.";
  body["metadata"] = {{"k", "v"}};
  auto r = post_json("/v1/responses", body);
  ASSERT_EQ(r.status, 200u);
  const json j = json::parse(r.body);
  EXPECT_EQ(j["object"], "response");
  EXPECT_EQ(j["status"], "incomplete");
  EXPECT_EQ(j["instructions"], "Be brief.");
  EXPECT_EQ(j["metadata"]["k"], "v");
  EXPECT_EQ(j["output"][0]["content"][0]["text"], " Once upon a");
  const auto prompt = engine_->submitted().at(0).prompt_tokens;
  std::string text;
  for (std::size_t i = 1; i < prompt.size(); ++i) text += char(prompt[i] - 3);
  EXPECT_EQ(text, "System: Be brief.\nUser: Hi\nAssistant:");
}

TEST_F(ResponsesE2eTest, BackgroundResponseRunsToTheEndWithoutAnyReader) {
  start(FakeEngineOptions{.step_interval = 2ms});
  const std::string id = create_background(8);
  const json done = wait_done(id);
  EXPECT_EQ(done["status"], "incomplete");
  EXPECT_EQ(done["background"], true);
  EXPECT_EQ(done["output"][0]["content"][0]["text"], " Once upon a time Once upon a time");
  EXPECT_TRUE(engine_->cancelled().empty());
}

TEST_F(ResponsesE2eTest, ResumeAfterEverySequenceNumberReplaysExactly) {
  start(FakeEngineOptions{.step_interval = 1ms});
  const std::string id = create_background(12);
  // Follow from the start while it runs: the whole log, live.
  auto full = sse_frames(call(http::verb::get, "/v1/responses/" + id + "?stream=true").body);
  ASSERT_GE(full.size(), 9u);
  for (std::size_t i = 0; i < full.size(); ++i) ASSERT_EQ(full[i].id, static_cast<long long>(i));
  const std::string text = delta_text(full);
  EXPECT_EQ(text, " Once upon a time Once upon a time Once upon a time");
  for (long long n = -1; n < static_cast<long long>(full.size()); ++n) {
    const bool by_header = n % 2 == 0;  // Last-Event-ID means the same as starting_after
    auto r = by_header ? call(http::verb::get, "/v1/responses/" + id + "?stream=true", "",
                              {{"Last-Event-ID", std::to_string(n)}})
                       : call(http::verb::get, "/v1/responses/" + id + "?stream=true&starting_after=" + std::to_string(n));
    ASSERT_EQ(r.status, 200u);
    auto rest = sse_frames(r.body);
    ASSERT_EQ(rest.size(), full.size() - static_cast<std::size_t>(n + 1)) << n;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      EXPECT_EQ(rest[i].id, n + 1 + static_cast<long long>(i));
      EXPECT_EQ(rest[i].data, full[static_cast<std::size_t>(n + 1) + i].data);
    }
    const std::vector<Frame> before(full.begin(), full.begin() + (n + 1));
    EXPECT_EQ(delta_text(before) + delta_text(rest), text) << n;
  }
}

TEST_F(ResponsesE2eTest, CuttingABackgroundStreamDoesNotCancelIt) {
  start(FakeEngineOptions{.step_interval = 3ms});
  net::io_context ioc;
  auto socket = connect_to(ioc, port());
  net::write(socket, net::buffer(raw_post("/v1/responses", responses_body(60, true, true).dump())));
  std::string got;
  char buf[4096];
  while (got.find("response.output_text.delta") == std::string::npos) got.append(buf, socket.read_some(net::buffer(buf)));
  socket.close();
  // The id is in the first event; read it from the headers' body part.
  const std::size_t at = got.find("\"id\":\"resp_");
  ASSERT_NE(at, std::string::npos);
  const std::string rid = got.substr(at + 6, got.find('"', at + 6) - (at + 6));
  const json done = wait_done(rid);
  EXPECT_EQ(done["status"], "incomplete");
  EXPECT_EQ(done["usage"]["output_tokens"], 60);
  EXPECT_TRUE(engine_->cancelled().empty());
}

TEST_F(ResponsesE2eTest, WithoutBackgroundADisconnectCancelsAtOnce) {
  start(FakeEngineOptions{.step_interval = 5ms});
  net::io_context ioc;
  auto socket = connect_to(ioc, port());
  net::write(socket, net::buffer(raw_post("/v1/responses", responses_body(10000, true).dump())));
  std::string got;
  char buf[4096];
  while (got.find("response.output_text.delta") == std::string::npos) got.append(buf, socket.read_some(net::buffer(buf)));
  socket.close();
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->cancelled().size() == 1 && engine_->num_live() == 0; }, 3000ms));
}

TEST_F(ResponsesE2eTest, CancelStopsItInTheEngineAndIsIdempotent) {
  start(FakeEngineOptions{.step_interval = 5ms});
  const std::string id = create_background(10000);
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->num_running() == 1; }, 3000ms));
  auto c = call(http::verb::post, "/v1/responses/" + id + "/cancel");
  ASSERT_EQ(c.status, 200u);
  EXPECT_EQ(json::parse(c.body)["status"], "cancelled");
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->cancelled().size() == 1 && engine_->num_live() == 0; }, 3000ms));
  EXPECT_EQ(wait_done(id)["status"], "cancelled");
  EXPECT_EQ(call(http::verb::post, "/v1/responses/" + id + "/cancel").status, 200u);
  auto frames = sse_frames(call(http::verb::get, "/v1/responses/" + id + "?stream=true").body);
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(frames.back().event, "response.cancelled");
}

// A DELETE while it runs cancels it, and its generation still ends: the server counts nothing in
// flight afterwards (else a drain would wait for it until --drain-timeout).
TEST_F(ResponsesE2eTest, DeletingARunningResponseEndsItsGeneration) {
  start(FakeEngineOptions{.step_interval = 5ms});
  const std::string id = create_background(10000);
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->num_running() == 1; }, 3000ms));
  EXPECT_EQ(server_->state().num_in_flight(), 1);
  ASSERT_EQ(call(http::verb::delete_, "/v1/responses/" + id).status, 200u);
  ASSERT_TRUE(FakeEngine::wait_for([&] { return engine_->cancelled().size() == 1 && engine_->num_live() == 0; }, 3000ms));
  EXPECT_TRUE(FakeEngine::wait_for([&] { return server_->state().num_in_flight() == 0; }, 3000ms))
      << server_->state().num_in_flight() << " generation(s) still counted in flight";
}

TEST_F(ResponsesE2eTest, DeleteUnknownAndMalformedIds) {
  start();
  const std::string id = create_background(2);
  wait_done(id);
  auto d = call(http::verb::delete_, "/v1/responses/" + id);
  ASSERT_EQ(d.status, 200u);
  EXPECT_EQ(json::parse(d.body)["deleted"], true);
  for (const std::string& target : std::vector<std::string>{"/v1/responses/" + id, "/v1/responses/resp_nope", "/v1/responses/resp_nope?stream=true"}) {
    auto r = call(http::verb::get, target);
    EXPECT_EQ(r.status, 404u) << target;
    EXPECT_TRUE(json::parse(r.body)["error"].contains("message"));
  }
  EXPECT_EQ(call(http::verb::post, "/v1/responses/resp_nope/cancel").status, 404u);
  EXPECT_EQ(call(http::verb::delete_, "/v1/responses/resp_nope").status, 404u);
  const std::string other = create_background(2);
  EXPECT_EQ(call(http::verb::get, "/v1/responses/" + other + "?stream=true&starting_after=x").status, 400u);
}

TEST_F(ResponsesE2eTest, BoundsRunningTtlAndLogBytes) {
  ServerConfig config;
  config.max_background = 1;
  config.background_ttl = 0.2;
  start(FakeEngineOptions{.step_interval = 2ms}, config);
  const std::string a = create_background(10000);
  auto refused = post_json("/v1/responses", responses_body(2, false, true));
  EXPECT_EQ(refused.status, 429u);
  EXPECT_EQ(refused.raw[http::field::retry_after], "1");
  call(http::verb::post, "/v1/responses/" + a + "/cancel");
  wait_done(a);  // "cancelled" as soon as asked; it holds its place until the engine has dropped it
  ASSERT_TRUE(FakeEngine::wait_for([&] { return server_->state().background()->num_running() == 0; }, 5000ms));
  const std::string b = create_background(2);  // room again once the first has finished
  wait_done(b);
  std::this_thread::sleep_for(300ms);  // past the TTL of both
  EXPECT_EQ(call(http::verb::get, "/v1/responses/" + b).status, 404u);
}

TEST_F(ResponsesE2eTest, OldestFinishedLogsAreEvictedPastTheByteBudget) {
  ServerConfig config;
  config.background_log_mb = 12.0 / 1024;  // 12 KiB: two or so finished logs of ~5 KiB
  start({}, config);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(create_background(8));
    wait_done(ids.back());
  }
  const auto body = call(http::verb::get, "/v1/responses/" + ids.back() + "?stream=true").body;
  ASSERT_GT(body.size(), 3000u);  // so six of them cannot all fit
  EXPECT_EQ(call(http::verb::get, "/v1/responses/" + ids.front()).status, 404u);  // evicted, oldest first
  EXPECT_EQ(call(http::verb::get, "/v1/responses/" + ids.back()).status, 200u);
  EXPECT_LE(server_->state().background()->num_stored(), 3);
  EXPECT_GE(server_->state().background()->num_stored(), 1);
}

TEST_F(ResponsesE2eTest, BadInputIsA400NamingTheParameter) {
  start();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", ""},
      {R"({"model":"m"})", "input"},
      {R"({"input":5})", "input"},
      {R"({"input":[{"role":"user","content":[{"type":"input_image","image_url":"x"}]}]})", "input"},
      {R"({"input":"x","tools":[{"type":"web_search_preview"}]})", "tools"},
      {R"({"input":"x","previous_response_id":"resp_1"})", "previous_response_id"},
      {R"({"input":"x","background":true,"store":false})", "background"},
      {R"({"input":"x","max_output_tokens":0})", "max_output_tokens"},
      {R"({"input":"x","temperature":"hot"})", "temperature"},
      {R"({"input":"x","include":["file_search_call.results"]})", "include"},
      {R"({"input":"x","top_logprobs":50})", "top_logprobs"},
      {R"({"input":"x","max_tokens":5})", "max_tokens"},
  };
  for (const auto& [body, param] : cases) {
    auto r = call(http::verb::post, "/v1/responses", body);
    EXPECT_EQ(r.status, 400u) << body;
    const json e = json::parse(r.body);
    EXPECT_EQ(e["error"]["type"], "invalid_request_error") << body;
    if (!param.empty()) {
      EXPECT_EQ(e["error"]["param"], param) << body;
    }
  }
  EXPECT_EQ(post_json("/v1/responses", responses_body(1, false)).status, 200u);
}

}  // namespace
}  // namespace ladle::server::test
