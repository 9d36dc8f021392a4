#include "server/openai_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "scheduler/chat_template.h"
#include "server/openai_encoder.h"

namespace ladle::server {
namespace {

using nlohmann::json;

CompletionRequest parse_ok(std::string_view body, Endpoint e = Endpoint::kCompletions) {
  auto r = parse_completion_request(body, e);
  EXPECT_TRUE(std::holds_alternative<CompletionRequest>(r)) << std::get<ApiError>(r).message;
  return std::holds_alternative<CompletionRequest>(r) ? std::get<CompletionRequest>(r) : CompletionRequest{};
}

ApiError parse_err(std::string_view body, Endpoint e = Endpoint::kCompletions) {
  auto r = parse_completion_request(body, e);
  EXPECT_TRUE(std::holds_alternative<ApiError>(r)) << body;
  return std::holds_alternative<ApiError>(r) ? std::get<ApiError>(r) : ApiError{};
}

TEST(OpenAiApiTest, ParsesEverySamplingParameter) {
  auto r = parse_ok(R"({"prompt":"hi","max_tokens":9,"temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.1,
                        "seed":7,"stop":["a","b"],"ignore_eos":true,"stream":true,
                        "stream_options":{"include_usage":true},"user":"u","n":1,"model":"m","frequency_penalty":0})");
  EXPECT_EQ(r.prompt, "hi");
  EXPECT_EQ(r.params.max_tokens, 9);
  EXPECT_FLOAT_EQ(r.params.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.params.top_p, 0.9f);
  EXPECT_EQ(r.params.top_k, 40);
  EXPECT_FLOAT_EQ(r.params.min_p, 0.1f);
  EXPECT_EQ(r.params.seed, 7u);
  EXPECT_EQ(r.params.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.params.ignore_eos);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_TRUE(r.max_tokens_given);
}

TEST(OpenAiApiTest, DefaultsAndStopAsString) {
  auto r = parse_ok(R"({"prompt":"x","stop":"\n"})");
  EXPECT_EQ(r.params.max_tokens, 16);
  EXPECT_FALSE(r.max_tokens_given);
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.params.stop, std::vector<std::string>{"\n"});
}

TEST(OpenAiApiTest, ChatTemplateAndMaxCompletionTokens) {
  auto r = parse_ok(R"({"messages":[{"role":"system","content":"S"},{"role":"user","content":[{"type":"text","text":"U"}]},
                                    {"role":"assistant","content":"A"},{"role":"user","content":"Q"}],
                        "max_completion_tokens":4})", Endpoint::kChat);
  EXPECT_EQ(scheduler::render_plain_chat(r.messages), "System: S\nUser: U\nAssistant: A\nUser: Q\nAssistant:");
  EXPECT_EQ(r.params.max_tokens, 4);
}

TEST(OpenAiApiTest, ErrorsNameTheParameter) {
  EXPECT_EQ(parse_err(R"({"prompt":"x","temperature":-0.1})").param, "temperature");
  EXPECT_EQ(parse_err(R"({"prompt":"x","top_p":1.5})").param, "top_p");
  EXPECT_EQ(parse_err(R"({"prompt":"x","top_k":-1})").param, "top_k");
  EXPECT_EQ(parse_err(R"({"prompt":"x","min_p":2})").param, "min_p");
  EXPECT_EQ(parse_err(R"({"prompt":"x","max_tokens":0})").param, "max_tokens");
  EXPECT_EQ(parse_err(R"({"prompt":"x","max_tokens":1.5})").param, "max_tokens");
  EXPECT_EQ(parse_err(R"({"prompt":"x","stop":["a","b","c","d","e"]})").param, "stop");
  EXPECT_EQ(parse_err(R"({"prompt":"x","stop":[1]})").param, "stop");
  EXPECT_EQ(parse_err(R"({"prompt":"x","stream":"yes"})").param, "stream");
  EXPECT_EQ(parse_err(R"({"prompt":"x","n":3})").param, "n");
  EXPECT_EQ(parse_err(R"({"prompt":"x","seed":"1"})").param, "seed");
  EXPECT_EQ(parse_err(R"({"prompt":"x","stream_options":{"include_usage":1}})").param, "stream_options.include_usage");
  EXPECT_EQ(parse_err(R"({"prompt":5})").param, "prompt");
  EXPECT_EQ(parse_err(R"({})").param, "prompt");
  EXPECT_EQ(parse_err(R"({"messages":[]})", Endpoint::kChat).param, "messages");
  EXPECT_EQ(parse_err(R"({"messages":[{"role":"tool","content":"x"}]})", Endpoint::kChat).param, "messages");
  EXPECT_EQ(parse_err(R"({"messages":[{"role":"user"}]})", Endpoint::kChat).param, "messages");
}

TEST(OpenAiApiTest, UnknownFieldsAreRefusedByName) {
  ApiError e = parse_err(R"({"prompt":"x","max_token":5})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.param, "max_token");
  EXPECT_EQ(e.message, "Unrecognized request argument supplied: max_token");
  EXPECT_EQ(parse_err(R"({"prompt":"x","messages":[]})").param, "messages");  // the other endpoint's
  EXPECT_EQ(parse_err(R"({"messages":[{"role":"user","content":"q"}],"prompt":"x"})", Endpoint::kChat).param, "prompt");
  EXPECT_EQ(parse_err(R"({"prompt":"x","echo":false,"tools":[]})").param, "tools");
  EXPECT_EQ(parse_err(R"({"messages":[{"role":"user","content":"q"}],"echo":false})", Endpoint::kChat).param, "echo");
}

TEST(OpenAiApiTest, UnimplementedOpenAiFieldsPassOnlyAtTheirNeutralValue) {
  parse_ok(R"({"prompt":"x","frequency_penalty":0,"presence_penalty":0.0,"logit_bias":{},"logprobs":null,
               "echo":false,"best_of":1,"suffix":""})");
  parse_ok(R"({"messages":[{"role":"user","content":"q"}],"frequency_penalty":null,"logprobs":false,"top_logprobs":0,
               "tools":[],"tool_choice":"none","parallel_tool_calls":true,"response_format":{"type":"text"},
               "modalities":["text"],"store":false,"metadata":{"k":"v"},"service_tier":"auto","functions":[],
               "function_call":"auto"})", Endpoint::kChat);
  for (const char* field : {R"("frequency_penalty":0.5)", R"("presence_penalty":-1)", R"("logit_bias":{"50":-100})",
                            R"("best_of":2)", R"("suffix":"end")"}) {
    const ApiError e = parse_err(std::string(R"({"prompt":"x",)") + field + "}");
    EXPECT_EQ(e.status, 400) << field;
    EXPECT_NE(e.message.find("not supported"), std::string::npos) << field << ": " << e.message;
    EXPECT_EQ(std::string(field).find("\"" + e.param + "\""), 0u) << field;
  }
  for (const char* field : {R"("tools":[{"type":"function"}])",
                            R"("tool_choice":"required")", R"("response_format":{"type":"json_object"})",
                            R"("modalities":["text","audio"])", R"("store":true)", R"("service_tier":"flex")"}) {
    const ApiError e = parse_err(std::string(R"({"messages":[{"role":"user","content":"q"}],)") + field + "}",
                                 Endpoint::kChat);
    EXPECT_NE(e.message.find("not supported"), std::string::npos) << field << ": " << e.message;
    EXPECT_EQ(std::string(field).find("\"" + e.param + "\""), 0u) << field;
  }
}

TEST(OpenAiApiTest, LogprobsOfBothEndpoints) {
  EXPECT_EQ(parse_ok(R"({"prompt":"x"})").params.logprobs, -1);
  EXPECT_EQ(parse_ok(R"({"prompt":"x","logprobs":0})").params.logprobs, 0);
  EXPECT_EQ(parse_ok(R"({"prompt":"x","logprobs":5})").params.logprobs, 5);
  EXPECT_EQ(parse_err(R"({"prompt":"x","logprobs":6})").param, "logprobs");
  EXPECT_EQ(parse_err(R"({"prompt":"x","logprobs":true})").param, "logprobs");
  const std::string chat = R"({"messages":[{"role":"user","content":"q"}],)";
  EXPECT_EQ(parse_ok(chat + R"("logprobs":true})", Endpoint::kChat).params.logprobs, 0);
  EXPECT_EQ(parse_ok(chat + R"("logprobs":true,"top_logprobs":20})", Endpoint::kChat).params.logprobs, 20);
  EXPECT_EQ(parse_ok(chat + R"("logprobs":false})", Endpoint::kChat).params.logprobs, -1);
  EXPECT_EQ(parse_err(chat + R"("logprobs":true,"top_logprobs":21})", Endpoint::kChat).param, "top_logprobs");
  EXPECT_EQ(parse_err(chat + R"("top_logprobs":3})", Endpoint::kChat).param, "top_logprobs");
}

// A number too large for a double is malformed input (400), not an internal error (found by the
// dialect_requests fuzz target: nlohmann reports it as out_of_range, not parse_error).
TEST(OpenAiApiTest, NumberOverflowIsMalformedJson) {
  const ApiError e = parse_err(R"({"prompt":"x","max_tokens":6E666})");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("malformed JSON"), std::string::npos) << e.message;
}

TEST(OpenAiApiTest, PromptAsTokenIds) {
  auto r = parse_ok(R"({"prompt":[1,450,2]})");
  ASSERT_TRUE(r.prompt_tokens.has_value());
  EXPECT_EQ(*r.prompt_tokens, (std::vector<std::int32_t>{1, 450, 2}));
  EXPECT_TRUE(r.prompt.empty());
  EXPECT_FALSE(parse_ok(R"({"prompt":"text"})").prompt_tokens.has_value());
  for (const char* bad : {R"({"prompt":[1,"a"]})", R"({"prompt":[-1]})", R"({"prompt":[1.5]})", R"({"prompt":[4294967296]})",
                          R"({"prompt":["a","b"]})", R"({"prompt":[]})"})
    EXPECT_EQ(parse_err(bad).param, "prompt") << bad;
}

TEST(OpenAiApiTest, MalformedJsonAndInvalidUtf8) {
  EXPECT_EQ(parse_err("{").status, 400);
  EXPECT_EQ(parse_err("[1,2]").status, 400);
  EXPECT_NE(parse_err("{\"prompt\":\"\xc3\x28\"}").message.find("JSON"), std::string::npos);
  EXPECT_EQ(parse_err(R"({"prompt":"\ud800"})").status, 400);  // lone surrogate
}

TEST(OpenAiApiTest, ErrorJsonShape) {
  auto j = json::parse(error_json(invalid_param("top_p", "bad")));
  EXPECT_EQ(j["error"]["message"], "bad");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "top_p");
  EXPECT_TRUE(j["error"]["code"].is_null());
  EXPECT_EQ(api_error_from(make_error(ErrorCode::kResourceExhausted, "full")).status, 429);
  EXPECT_EQ(api_error_from(make_error(ErrorCode::kUnavailable, "stop")).status, 503);
  EXPECT_EQ(api_error_from(make_error(ErrorCode::kInternal, "bug")).status, 500);
}

TEST(OpenAiApiTest, ChunksAndFullResponses) {
  ResponseContext chat{Endpoint::kChat, "chatcmpl-1", "m", 42, true};
  auto first = json::parse(delta_chunk_json(chat, "Hi", true));
  EXPECT_EQ(first["id"], "chatcmpl-1");
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["created"], 42);
  EXPECT_EQ(first["choices"][0]["delta"], json({{"role", "assistant"}, {"content", "Hi"}}));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  auto fin = json::parse(finish_chunk_json(chat, scheduler::FinishReason::kLength));
  EXPECT_EQ(fin["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(fin["choices"][0]["delta"].empty());
  scheduler::Usage usage{5, 3, 2};
  auto u = json::parse(usage_chunk_json(chat, usage));
  EXPECT_TRUE(u["choices"].is_array() && u["choices"].empty());
  EXPECT_EQ(u["usage"]["total_tokens"], 8);
  EXPECT_EQ(u["usage"]["prompt_tokens_details"]["cached_tokens"], 2);

  ResponseContext cmpl{Endpoint::kCompletions, "cmpl-2", "m", 1, false};
  EXPECT_EQ(json::parse(delta_chunk_json(cmpl, "x", true))["choices"][0]["text"], "x");
  auto full = json::parse(full_response_json(cmpl, "abc", {scheduler::FinishReason::kStop, usage, ""}));
  EXPECT_EQ(full["object"], "text_completion");
  EXPECT_EQ(full["choices"][0]["text"], "abc");
  EXPECT_EQ(full["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(full["usage"]["completion_tokens"], 3);
  auto chat_full = json::parse(full_response_json(chat, "abc", {scheduler::FinishReason::kStop, usage, ""}));
  EXPECT_EQ(chat_full["choices"][0]["message"]["content"], "abc");
  EXPECT_EQ(chat_full["object"], "chat.completion");
}

}  // namespace
}  // namespace ladle::server
