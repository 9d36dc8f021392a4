#include "bench/loadgen/openai_protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bench/loadgen/url.h"
#include "bench/loadgen/workload.h"

namespace ladle::loadgen {
namespace {

TEST(OpenAiProtocolTest, CompletionsBodyAsksForUsage) {
  CompletionRequest r;
  r.model = "m";
  r.prompt = "hello";
  r.max_tokens = 7;
  r.ignore_eos = true;
  r.seed = 3;
  auto j = nlohmann::json::parse(build_request_body(r));
  EXPECT_EQ(j["prompt"], "hello");
  EXPECT_EQ(j["max_tokens"], 7);
  EXPECT_EQ(j["stream"], true);
  EXPECT_EQ(j["stream_options"]["include_usage"], true);
  EXPECT_EQ(j["ignore_eos"], true);
  EXPECT_EQ(j["seed"], 3);
  EXPECT_FALSE(j.contains("messages"));
}

TEST(OpenAiProtocolTest, ChatBodyAndNonStream) {
  CompletionRequest r;
  r.endpoint = ApiEndpoint::kChat;
  r.prompt = "hi";
  r.stream = false;
  auto j = nlohmann::json::parse(build_request_body(r));
  EXPECT_EQ(j["messages"][0]["content"], "hi");
  EXPECT_EQ(j["stream"], false);
  EXPECT_FALSE(j.contains("stream_options"));
  EXPECT_FALSE(j.contains("ignore_eos"));
  EXPECT_FALSE(j.contains("model"));
}

TEST(OpenAiProtocolTest, ParsesChunks) {
  auto c = parse_chunk(R"({"choices":[{"index":0,"text":" the","finish_reason":null}]})", ApiEndpoint::kCompletions);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->content, " the");
  EXPECT_FALSE(c->finish_reason);
  auto u = parse_chunk(R"({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9}})", ApiEndpoint::kCompletions);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->content, "");
  EXPECT_EQ(u->completion_tokens, 9);
  EXPECT_EQ(u->prompt_tokens, 5);
  auto chat = parse_chunk(R"({"choices":[{"delta":{"content":"Hi"},"finish_reason":"stop"}]})", ApiEndpoint::kChat);
  ASSERT_TRUE(chat.ok());
  EXPECT_EQ(chat->content, "Hi");
  EXPECT_EQ(chat->finish_reason, "stop");
  auto whole = parse_chunk(R"({"choices":[{"message":{"content":"Done."}}],"usage":{"completion_tokens":2}})", ApiEndpoint::kChat);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->content, "Done.");
  auto err = parse_chunk(R"({"error":{"message":"boom","code":500}})", ApiEndpoint::kChat);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error, "boom");
  EXPECT_FALSE(parse_chunk("not json", ApiEndpoint::kChat).ok());
}

TEST(OpenAiProtocolTest, EndpointsAndModels) {
  EXPECT_EQ(*parse_endpoint("/v1/chat/completions"), ApiEndpoint::kChat);
  EXPECT_EQ(*parse_endpoint("completions"), ApiEndpoint::kCompletions);
  EXPECT_FALSE(parse_endpoint("/v1/embeddings").ok());
  EXPECT_EQ(*first_model_id(R"({"object":"list","data":[{"id":"stories"}]})"), "stories");
  EXPECT_FALSE(first_model_id(R"({"data":[]})").ok());
}

TEST(UrlTest, Parses) {
  auto u = parse_url("http://127.0.0.1:8080");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->target("/metrics"), "/metrics");
  auto v = parse_url("http://localhost/api/");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->port, "80");
  EXPECT_EQ(v->target("/v1/models"), "/api/v1/models");
  auto six = parse_url("http://[::1]:9000");
  ASSERT_TRUE(six.ok());
  EXPECT_EQ(six->host, "::1");
  EXPECT_FALSE(parse_url("https://x").ok());
  EXPECT_FALSE(parse_url("http://x:0").ok());
  EXPECT_FALSE(parse_url("http://:80").ok());
}

int count_words(const std::string& s) {
  int n = s.empty() ? 0 : 1;
  for (char c : s) n += c == ' ';
  return n;
}

TEST(WorkloadTest, LengthsRangesPrefixAndSeed) {
  Workload fixed(WorkloadConfig{20, 50, 0.0, 0, 1});
  WorkItem a = fixed.next();
  EXPECT_EQ(count_words(a.prompt), 20);
  EXPECT_EQ(a.max_tokens, 50);
  Workload ranged(WorkloadConfig{100, 100, 0.5, 8, 2});
  int lo = 1000, hi = 0;
  for (int i = 0; i < 500; ++i) {
    WorkItem w = ranged.next();
    EXPECT_EQ(w.prompt.rfind(ranged.shared_prefix() + " ", 0), 0u);
    EXPECT_EQ(count_words(w.prompt), w.input_words);
    lo = std::min(lo, w.max_tokens);
    hi = std::max(hi, w.max_tokens);
  }
  EXPECT_GE(lo, 50);
  EXPECT_LE(hi, 150);
  EXPECT_LT(lo, 60);  // the range is actually used
  EXPECT_GT(hi, 140);
  Workload again(WorkloadConfig{20, 50, 0.0, 0, 1}), other(WorkloadConfig{20, 50, 0.0, 0, 2});
  EXPECT_EQ(again.next().prompt, a.prompt);
  EXPECT_NE(other.next().prompt, a.prompt);
}

}  // namespace
}  // namespace ladle::loadgen
