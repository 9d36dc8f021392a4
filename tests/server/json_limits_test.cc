#include "server/json_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace ladle::server {
namespace {

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string numbers(std::size_t n) {
  std::string s = "[";
  for (std::size_t i = 0; i < n; ++i) s += (i ? ",1" : "1");
  return s + "]";
}

std::string strings(std::size_t n) {
  std::string s = "[";
  for (std::size_t i = 0; i < n; ++i) s += (i ? ",\"x\"" : "\"x\"");
  return s + "]";
}

TEST(JsonLimitsTest, OrdinaryRequestsPass) {
  EXPECT_FALSE(check_json_limits(R"({"prompt":"Once upon a time","max_tokens":8,"stop":["\n","."]})"));
  EXPECT_FALSE(check_json_limits(
      R"({"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream_options":{"include_usage":true}})"));
  EXPECT_FALSE(check_json_limits(R"({"prompt":)" + numbers(5000) + "}"));  // a long token-id prompt
}

TEST(JsonLimitsTest, MalformedJsonIsLeftToTheParser) {
  EXPECT_FALSE(check_json_limits("{\"prompt\": "));
  EXPECT_FALSE(check_json_limits("not json"));
  EXPECT_FALSE(check_json_limits(""));
}

TEST(JsonLimitsTest, DepthIsBounded) {
  JsonLimits limits;
  limits.max_depth = 8;
  EXPECT_FALSE(check_json_limits(nested(8), limits));
  auto e = check_json_limits(nested(9), limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->code, "json_too_deep");
  // Deep, and unterminated: refused for its depth before the parser would build anything.
  e = check_json_limits(R"({"prompt":"a","x":)" + std::string(1 << 20, '['));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "json_too_deep");
}

TEST(JsonLimitsTest, NamedTopLevelArraysHaveTheirOwnLimits) {
  JsonLimits limits;
  auto messages = [](std::size_t n) {
    std::string s = R"({"messages":[)";
    for (std::size_t i = 0; i < n; ++i) s += std::string(i ? "," : "") + R"({"role":"user","content":"hi"})";
    return s + "]}";
  };
  EXPECT_FALSE(check_json_limits(messages(limits.max_messages), limits));
  auto e = check_json_limits(messages(limits.max_messages + 1), limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages");
  EXPECT_EQ(e->code, "array_above_max_length");
  EXPECT_EQ(e->type, "invalid_request_error");

  EXPECT_FALSE(check_json_limits(R"({"stop":)" + strings(4) + "}"));
  e = check_json_limits(R"({"stop":)" + strings(5) + "}");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "stop");

  limits.max_token_ids = 100;
  EXPECT_FALSE(check_json_limits(R"({"prompt":)" + numbers(100) + "}", limits));
  e = check_json_limits(R"({"prompt":)" + numbers(101) + "}", limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "prompt");
  e = check_json_limits(R"({"tokens":)" + numbers(101) + "}", limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "tokens");
}

TEST(JsonLimitsTest, OtherArraysAndObjectsAreBounded) {
  JsonLimits limits;
  limits.max_array_length = 10;
  limits.max_object_members = 3;
  // A nested array is not the top-level "stop" or "prompt": the generic limit applies.
  EXPECT_FALSE(check_json_limits(R"({"prompt":[)" + numbers(10) + "]}", limits));
  auto e = check_json_limits(R"({"prompt":[)" + numbers(11) + "]}", limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "");
  EXPECT_EQ(e->code, "array_above_max_length");
  e = check_json_limits(R"({"logit_bias":{"1":1,"2":1,"3":1,"4":1}})", limits);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "object_above_max_size");
  e = check_json_limits(numbers(11), limits);  // a top-level array
  ASSERT_TRUE(e);
}

}  // namespace
}  // namespace ladle::server
