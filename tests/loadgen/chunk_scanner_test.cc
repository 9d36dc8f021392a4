#include "bench/loadgen/chunk_scanner.h"

#include <gtest/gtest.h>

#include <random>

namespace ladle::loadgen {
namespace {

void expect_same(const ChunkInfo& a, const ChunkInfo& b, std::string_view input) {
  EXPECT_EQ(a.content, b.content) << input;
  EXPECT_EQ(a.completion_tokens, b.completion_tokens) << input;
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens) << input;
  EXPECT_EQ(a.finish_reason, b.finish_reason) << input;
  EXPECT_EQ(a.error, b.error) << input;
}

// Whenever the scanner answers, it answers what the full parser says; returns whether it did.
bool agrees(std::string_view input, ApiEndpoint endpoint) {
  auto fast = scan_chunk(input, endpoint);
  auto full = parse_chunk_document(input, endpoint);
  if (!fast) return false;
  EXPECT_TRUE(full.ok()) << "scanner accepted what the JSON parser rejects: " << input;
  if (full.ok()) expect_same(*fast, *full, input);
  return true;
}

// What servers actually send: the scanner must take these itself, not decline them.
TEST(ChunkScannerTest, TakesTheCommonChunksAndAgrees) {
  const char* completions[] = {
      R"({"choices":[{"finish_reason":null,"index":0,"logprobs":null,"text":" the"}],"created":1,"id":"cmpl-1","model":"m","object":"text_completion"})",
      R"({"choices":[{"index":0,"text":"","finish_reason":"length"}]})",
      R"({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":0}}})",
      R"( { "choices" : [ { "text" : "a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0001" } , {"text":"second"} ] } )",
      R"({"choices":[{"text":"caf\u00e9 caf)" "\xC3\xA9" R"("}],"created":-12,"x":[1.5e3,-0.25,true,false,null,{"y":[]}]})",
      R"({"error":null,"choices":[{"text":5}]})",
      R"({"choices":"none","usage":null})",
      R"({"usage":{"completion_tokens":"7","prompt_tokens":-3}})"};
  for (const char* c : completions) EXPECT_TRUE(agrees(c, ApiEndpoint::kCompletions)) << c;
  const char* chat[] = {
      R"({"choices":[{"delta":{"content":"Hi","role":"assistant"},"finish_reason":null,"index":0}]})",
      R"({"choices":[{"delta":{},"finish_reason":"stop","index":0}]})",
      R"({"choices":[{"delta":{"content":"","reasoning_content":"think"}}]})",
      R"({"choices":[{"delta":"text","message":{"content":"from message"}}]})",
      R"({"choices":[{"message":{"content":null,"reasoning_content":"r"}}],"usage":{"completion_tokens":2}})"};
  for (const char* c : chat) EXPECT_TRUE(agrees(c, ApiEndpoint::kChat)) << c;
}

// Anything unusual is left to the full parser (which may accept or reject it).
TEST(ChunkScannerTest, DeclinesErrorsMalformedAndAmbiguousInput) {
  const char* declined[] = {
      R"({"error":{"message":"boom"}})", R"({"error":"boom"})", "not json", "[1,2]", "",
      R"({"choices":[{"text":"a"}]} x)", R"({"choices":[{"text":"a"}],})", R"({"choices":[{"text":"a\x"}]})",
      R"({"choices":[{"text":"\ud83d"}]})", R"({"choices":[{"text":"\ude00"}]})", "{\"choices\":[{\"text\":\"\xFF\"}]}",
      "{\"choices\":[{\"text\":\"a\nb\"}]}", R"({"choices":[{"text":"a","text":"b"}]})",
      R"({"choices":[],"choices":[]})", R"({"usage":{"completion_tokens":9.0}})",
      R"({"usage":{"completion_tokens":99999999999}})", R"({"choices":[7]})", R"({"n":012})",
      R"({"n":1.})", R"({"n":-})", R"({"a":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]})"};
  for (const char* c : declined) EXPECT_FALSE(scan_chunk(c, ApiEndpoint::kCompletions).has_value()) << c;
}

// Random corruptions of a real chunk: the scanner never accepts what the parser rejects and
// never disagrees with it.
TEST(ChunkScannerTest, RandomMutationsNeverDisagree) {
  const std::string base =
      R"({"choices":[{"delta":{"content":"x\u00e9\"y","role":"assistant"},"finish_reason":null,"index":0,"logprobs":null}],"created":17,"id":"chatcmpl-1","model":"m","object":"chat.completion.chunk","usage":{"completion_tokens":3,"prompt_tokens":4}})";
  const std::string alphabet = "{}[]\":,\\u0123456789.eE-+ntfaslr \n\xC3\xA9";
  std::mt19937 rng(7);
  int accepted = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string s = base;
    for (int k = 0, n = 1 + int(rng() % 3); k < n; ++k) {
      std::size_t at = rng() % s.size();
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: s[at] = c; break;
        case 1: s.insert(s.begin() + long(at), c); break;
        default: s.erase(at, 1);
      }
    }
    accepted += agrees(s, ApiEndpoint::kChat);
  }
  EXPECT_GT(accepted, 100);  // mutations inside strings and skipped members stay on the fast path
}

}  // namespace
}  // namespace ladle::loadgen
