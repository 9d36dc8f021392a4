#include "server/handlers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/testing/fake_engine.h"

namespace ladle::server {
namespace {

using nlohmann::json;

TEST(HandlersTest, HealthReflectsState) {
  EXPECT_EQ(handle_health(Health::kReady).status, 200u);
  EXPECT_EQ(handle_health(Health::kLoading).status, 503u);
  EXPECT_EQ(json::parse(handle_health(Health::kDraining).body)["status"], "draining");
}

TEST(HandlersTest, ModelsListsTheModel) {
  testing::FakeEngine engine;
  auto j = json::parse(handle_models(engine.model_info(), 5).body);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "fake-model");
  EXPECT_EQ(j["data"][0]["max_model_len"], 256);
}

TEST(HandlersTest, TokenizeDetokenize) {
  testing::FakeEngine engine;
  auto tok = json::parse(handle_tokenize(engine, R"({"content":"a","add_special_tokens":false})").body);
  EXPECT_EQ(tok["tokens"], json::array({'a' + 3}));
  EXPECT_EQ(handle_tokenize(engine, R"({"prompt":1})").status, 400u);
  EXPECT_EQ(handle_tokenize(engine, "{\"prompt\":\"\xff\"}").status, 400u);
  EXPECT_EQ(json::parse(handle_detokenize(engine, R"({"tokens":[100,101]})").body)["prompt"], "ab");
  EXPECT_EQ(handle_detokenize(engine, R"({"tokens":[-1]})").status, 400u);
  EXPECT_EQ(handle_detokenize(engine, R"({"tokens":"x"})").status, 400u);
}

// /tokenize with messages gives the ids chat completions submit for the same conversation.
TEST(HandlersTest, TokenizeMessagesAsChatCompletionsDo) {
  testing::FakeEngine engine;
  const std::string messages = R"([{"role":"system","content":"S"},{"role":"user","content":"Hi"}])";
  auto tok = handle_tokenize(engine, R"({"messages":)" + messages + "}");
  ASSERT_EQ(tok.status, 200u) << tok.body;
  auto job = prepare_generation(engine, R"({"messages":)" + messages + "}", Endpoint::kChat, "chatcmpl-1", 0);
  ASSERT_TRUE(std::holds_alternative<GenerationJob>(job));
  const auto& ids = std::get<GenerationJob>(job).request.prompt_tokens;
  EXPECT_EQ(json::parse(tok.body)["tokens"], json(ids));
  EXPECT_EQ(ids, *engine.tokenize("System: S\nUser: Hi\nAssistant:", true, true));
  auto bad = handle_tokenize(engine, R"({"messages":[{"role":"wizard","content":"x"}]})");
  EXPECT_EQ(bad.status, 400u);
  EXPECT_EQ(json::parse(bad.body)["error"]["param"], "messages");
  EXPECT_EQ(handle_tokenize(engine, R"({"messages":[]})").status, 400u);
  EXPECT_EQ(handle_tokenize(engine, R"({"content":"a","parse_special":"yes"})").status, 400u);
}

TEST(HandlersTest, PrepareGenerationTokenizesAndSetsContext) {
  testing::FakeEngine engine;
  auto job = prepare_generation(engine, R"({"prompt":"ab","max_tokens":3,"stream":true})", Endpoint::kCompletions, "cmpl-9", 11);
  ASSERT_TRUE(std::holds_alternative<GenerationJob>(job));
  const auto& g = std::get<GenerationJob>(job);
  EXPECT_EQ(g.request.prompt_tokens, (std::vector<TokenId>{1, 'a' + 3, 'b' + 3}));
  EXPECT_EQ(g.request.params.max_tokens, 3);
  EXPECT_TRUE(g.stream);
  const auto reply = nlohmann::json::parse(g.encoder->reply({"xy"}, scheduler::Finish{}).body);
  EXPECT_EQ(reply["id"], "cmpl-9");
  EXPECT_EQ(reply["model"], "fake-model");
  EXPECT_EQ(reply["created"], 11);
  EXPECT_EQ(reply["choices"][0]["text"], "xy");
}

TEST(HandlersTest, ChatWithoutMaxTokensRunsToContext) {
  testing::FakeEngine engine;
  auto job = prepare_generation(engine, R"({"messages":[{"role":"user","content":"a"}]})", Endpoint::kChat, "c", 0);
  ASSERT_TRUE(std::holds_alternative<GenerationJob>(job));
  EXPECT_EQ(std::get<GenerationJob>(job).request.params.max_tokens, 256);
}

TEST(HandlersTest, PromptFillingTheContextIsRefused) {
  testing::FakeEngine engine;
  auto job = prepare_generation(engine, R"({"prompt":")" + std::string(255, 'x') + "\"}", Endpoint::kCompletions, "c", 0);
  ASSERT_TRUE(std::holds_alternative<ApiError>(job));
  EXPECT_EQ(std::get<ApiError>(job).code, "context_length_exceeded");
  EXPECT_EQ(std::get<ApiError>(job).param, "prompt");
}

TEST(HandlersTest, ErrorReplyAddsRetryAfterOn429) {
  auto r = error_reply(api_error_from(make_error(ErrorCode::kResourceExhausted, "full")));
  EXPECT_EQ(r.status, 429u);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
}

}  // namespace
}  // namespace ladle::server
