#include "server/delta_chunk_writer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/openai_encoder.h"

namespace ladle::server {
namespace {

// The slow path the writer replaces: one JSON document per event.
std::string reference(const ResponseContext& ctx, std::string_view text, bool first) {
  return delta_chunk_json(ctx, text, first);
}

std::string written(DeltaChunkWriter& w, std::string_view text, bool first) {
  std::string out = "prefix:";  // appends, never overwrites
  w.append_json(out, text, first);
  EXPECT_EQ(out.rfind("prefix:", 0), 0u);
  return out.substr(7);
}

std::vector<std::string> sample_texts() {
  std::vector<std::string> texts = {"", "Hello", " world", "say \"hi\"", "back\\slash", "tab\tnew\nline\r",
                                    "\b\f", "caf\xC3\xA9", "\xE2\x82\xAC 5", "\xF0\x9F\x98\x80!", "\x7F",
                                    "LADLExDELTAxMARKER", "</script>", "a/b"};
  for (int c = 0; c < 0x80; ++c) texts.push_back(std::string(1, char(c)) + "x");
  return texts;
}

TEST(DeltaChunkWriterTest, EscapesLikeTheJsonLibrary) {
  for (const auto& t : sample_texts()) {
    std::string ours = "\"";
    append_json_escaped(ours, t);
    ours += '"';
    EXPECT_EQ(ours, nlohmann::json(t).dump()) << "text " << t;
  }
}

TEST(DeltaChunkWriterTest, SameBytesAsTheJsonChunkForEveryEndpoint) {
  std::vector<ResponseContext> contexts = {
      {Endpoint::kCompletions, "cmpl-7", "stories260K.bin", 1700000000, false},
      {Endpoint::kChat, "chatcmpl-9", "m", 42, true},
      // identifiers that need escaping, or contain the template's marker, change nothing
      {Endpoint::kChat, "chatcmpl-\"q\"", "LADLExDELTAxMARKER", 1, false},
      {Endpoint::kCompletions, "cmpl-1", "dir\\model \xC3\xA9.bin", 0, true}};
  for (const auto& ctx : contexts) {
    DeltaChunkWriter w(ctx);
    for (const auto& t : sample_texts()) {
      for (bool first : {true, false}) EXPECT_EQ(written(w, t, first), reference(ctx, t, first)) << t;
    }
  }
}

TEST(DeltaChunkWriterTest, InvalidUtf8FallsBackToTheLibrarysReplacement) {
  ResponseContext ctx{Endpoint::kCompletions, "cmpl-1", "m", 5, false};
  DeltaChunkWriter w(ctx);
  for (std::string t : {"\xFF", "ab\xC3", "\xED\xA0\x80", "ok\x80ok"}) {
    std::string out = written(w, t, false);
    EXPECT_EQ(out, reference(ctx, t, false));
    EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD, never the raw bytes
  }
}

TEST(DeltaChunkWriterTest, ChunkIsParsableJsonOnOneLine) {
  ResponseContext ctx{Endpoint::kChat, "chatcmpl-3", "m", 7, false};
  DeltaChunkWriter w(ctx);
  std::string out = written(w, "two\nlines", true);
  EXPECT_EQ(out.find('\n'), std::string::npos);  // one SSE data line
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["choices"][0]["delta"]["content"], "two\nlines");
  EXPECT_EQ(j["choices"][0]["delta"]["role"], "assistant");
}

}  // namespace
}  // namespace ladle::server
