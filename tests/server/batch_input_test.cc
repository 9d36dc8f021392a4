// batch_input.h: each rule of a batch line's validation, with its line number, and a line
// prepared exactly as its live endpoint prepares it, as a batch-class request.
#include "server/batch_input.h"

#include <gtest/gtest.h>

#include "tests/testing/fake_engine.h"

namespace ladle::server {
namespace {

using nlohmann::json;

std::string line(const std::string& id, const json& body, const std::string& url = "/v1/completions",
                 const std::string& method = "POST") {
  return json{{"custom_id", id}, {"method", method}, {"url", url}, {"body", body}}.dump();
}

TEST(BatchInput, EveryRuleNamesItsLine) {
  testing::FakeEngine engine;
  const json ok = {{"prompt", "hi"}, {"max_tokens", 4}};
  const std::string content = line("a", ok) + "\n" +              // 1 ok
                              "not json\n" +                      // 2
                              "\n" +                              // 3 blank: skipped
                              line("a", ok) + "\n" +              // 4 duplicate custom_id
                              line("b", ok, "/v1/completions", "GET") + "\n" +   // 5
                              line("c", ok, "/v1/chat/completions") + "\n" +     // 6
                              line("d", {{"prompt", "hi"}, {"temperature", "hot"}}) + "\n" +  // 7
                              line("e", {{"prompt", "hi"}, {"stream", true}}) + "\n" +        // 8
                              line("f", {{"prompt", std::string(300, 'x')}}) + "\n" +        // 9 too long
                              R"({"method":"POST","url":"/v1/completions","body":{}})" "\n" +  // 10 no custom_id
                              line("g", ok) + "\r\n";                                          // 11 ok (CRLF)
  ValidatedInput v = validate_batch_input(engine, content, "/v1/completions", 200);
  ASSERT_EQ(v.lines.size(), 2u);
  EXPECT_EQ(v.lines[0].line, 1);
  EXPECT_EQ(v.lines[0].custom_id, "a");
  EXPECT_EQ(json::parse(v.lines[0].body), ok);
  EXPECT_EQ(v.lines[1].line, 11);
  std::vector<std::pair<int, std::string>> got;
  for (const auto& e : v.errors) got.emplace_back(e["line"].get<int>(), e["code"].get<std::string>());
  EXPECT_EQ(got, (std::vector<std::pair<int, std::string>>{{2, "invalid_json_line"},
                                                           {4, "duplicate_custom_id"},
                                                           {5, "invalid_method"},
                                                           {6, "mismatched_url"},
                                                           {7, "invalid_request"},
                                                           {8, "invalid_request"},
                                                           {9, "line_too_large"},
                                                           {10, "missing_required_parameter"}}));
  EXPECT_EQ(v.num_errors, 8);
  EXPECT_EQ(v.errors[4]["param"], "body.temperature");
  EXPECT_NE(v.errors[5]["message"].get<std::string>().find("stream"), std::string::npos);
}

TEST(BatchInput, EmptyFilesAndUnknownEndpointsFail) {
  testing::FakeEngine engine;
  ValidatedInput empty = validate_batch_input(engine, "\n  \n", "/v1/completions", 1000);
  ASSERT_EQ(empty.num_errors, 1);
  EXPECT_EQ(empty.errors[0]["code"], "empty_file");
  ValidatedInput unknown = validate_batch_input(engine, line("a", {{"prompt", "x"}}, "/v1/embeddings"), "/v1/embeddings", 1000);
  ASSERT_EQ(unknown.num_errors, 1);
  EXPECT_EQ(unknown.errors[0]["code"], "invalid_endpoint");
}

TEST(BatchInput, ErrorsListedAreCappedButCounted) {
  testing::FakeEngine engine;
  std::string content;
  for (int i = 0; i < kMaxBatchErrorsListed + 20; ++i) content += "{\n";
  ValidatedInput v = validate_batch_input(engine, content, "/v1/chat/completions", 1000);
  EXPECT_EQ(v.num_errors, kMaxBatchErrorsListed + 20);
  EXPECT_EQ(v.errors.size(), static_cast<std::size_t>(kMaxBatchErrorsListed));
}

TEST(BatchInput, ALineIsPreparedAsItsEndpointPreparesIt) {
  testing::FakeEngine engine;
  const std::string body = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":3,"seed":7})";
  auto line_job = prepare_batch_line(engine, BatchEndpoint::kChat, body, {"chatcmpl-1", "req-1", 5});
  auto live_job = prepare_generation(engine, body, Endpoint::kChat, "chatcmpl-1", 5);
  ASSERT_TRUE(std::holds_alternative<GenerationJob>(line_job));
  const auto& a = std::get<GenerationJob>(line_job).request;
  const auto& b = std::get<GenerationJob>(live_job).request;
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens);
  EXPECT_EQ(a.params.max_tokens, b.params.max_tokens);
  EXPECT_EQ(a.params.seed, b.params.seed);
  EXPECT_EQ(a.request_class, scheduler::RequestClass::kBatch);
  EXPECT_EQ(b.request_class, scheduler::RequestClass::kInteractive);
  auto background = prepare_batch_line(engine, BatchEndpoint::kResponses, R"({"input":"hi","background":true})",
                                       {"resp_1", "req", 5});
  ASSERT_TRUE(std::holds_alternative<ApiError>(background));
  EXPECT_EQ(std::get<ApiError>(background).param, "background");
  EXPECT_TRUE(std::holds_alternative<GenerationJob>(
      prepare_batch_line(engine, BatchEndpoint::kMessages,
                         R"({"model":"m","max_tokens":4,"messages":[{"role":"user","content":"hi"}]})", {"msg_1", "req_1", 5})));
  EXPECT_EQ(batch_endpoint_from("/v1/responses"), BatchEndpoint::kResponses);
  EXPECT_FALSE(batch_endpoint_from("/v1/embeddings"));
}

}  // namespace
}  // namespace ladle::server
