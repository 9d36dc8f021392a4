// The API key comparison: right only for the exact key, whatever the candidate's length.
#include "server/api_key.h"

#include <gtest/gtest.h>

namespace ladle::server {
namespace {

TEST(ApiKey, OnlyTheExactKeyMatches) {
  EXPECT_TRUE(equal_constant_time("sk-abc", "sk-abc"));
  for (const char* wrong : {"", "s", "sk-ab", "sk-abd", "sk-abc ", "sk-abcd", "SK-ABC", "xk-abc"})
    EXPECT_FALSE(equal_constant_time(wrong, "sk-abc")) << wrong;
  EXPECT_FALSE(equal_constant_time(std::string_view("sk-abc\0", 7), "sk-abc"));
  EXPECT_TRUE(api_key_matches("", "anything"));  // no key configured
  EXPECT_TRUE(api_key_matches("k", "k"));
  EXPECT_FALSE(api_key_matches("k", ""));
}

}  // namespace
}  // namespace ladle::server
