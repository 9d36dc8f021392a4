// Tests for scheduler/text_stream.h on the real tok512 / tokenizer32k vocabularies.
#include "scheduler/text_stream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "model/any_tokenizer.h"
#include "model/gguf_file.h"
#include "model/tokenizer.h"
#include "model/utf8.h"

namespace ladle::scheduler {
namespace {

using model::AnyTokenizer;
using model::Tokenizer;

const AnyTokenizer& tok512() {
  static const AnyTokenizer t = Tokenizer::load(std::string(LADLE_MODELS_DIR) + "/tok512.bin", 512).value();
  return t;
}

const AnyTokenizer& tok32k() {
  static const AnyTokenizer t = Tokenizer::load(std::string(LADLE_MODELS_DIR) + "/tokenizer32k.bin", 32000).value();
  return t;
}

// Llama 3's byte-level BPE vocabulary (a GGUF of llama.cpp's).
const AnyTokenizer& llama3() {
  static const AnyTokenizer t = [] {
    auto file = model::GgufFile::open(std::string(LADLE_VOCAB_DIR) + "/ggml-vocab-llama-bpe.gguf");
    return model::load_gguf_tokenizer(file.value()).value();
  }();
  return t;
}

// REFERENCE.md's greedy continuation of "Once upon a time" (positions 1..64, after BOS).
const std::vector<TokenId> kStory = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338,
                                     401, 396, 267, 337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385,
                                     328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267,
                                     337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13,  438, 310};
const std::string kStoryText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a "
    "big, red ball. She wanted to play with it, but it was too high.\nLily";

struct StreamRun {
  std::vector<std::string> deltas;  // one per push, then finish() (unless stopped)
  std::string text;
  int stopped_at = -1;  // index of the token whose push reported the stop
};

StreamRun stream(const AnyTokenizer& tok, TokenId prev, const std::vector<TokenId>& ids, std::vector<std::string> stops) {
  TextStream ts(tok, prev, std::move(stops));
  StreamRun run;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    TextStream::Step step = ts.push(ids[i]);
    run.deltas.push_back(step.text);
    run.text += step.text;
    if (step.stopped) {
      run.stopped_at = static_cast<int>(i);
      break;
    }
  }
  if (run.stopped_at < 0) {
    run.deltas.push_back(ts.finish());
    run.text += run.deltas.back();
  }
  EXPECT_EQ(ts.text(), run.text);
  return run;
}

TEST(TextStream, WithoutStopStringsEmitsEachPieceAtOnce) {
  const StreamRun run = stream(tok512(), Tokenizer::kBos, kStory, {});
  EXPECT_EQ(run.text, kStoryText);
  EXPECT_EQ(run.deltas[0], "Once");  // leading space stripped after BOS
  EXPECT_EQ(run.deltas[1], " upon");
  EXPECT_EQ(run.deltas[61], "\n");
  EXPECT_EQ(run.deltas.back(), "");  // nothing held at the end
  // After a prompt token (not BOS) the space stays.
  EXPECT_EQ(stream(tok512(), 378, {432, 383}, {}).text, ", there");
}

TEST(TextStream, EmojiSplitOverByteTokensIsHeldUntilComplete) {
  // tok512 has no piece for these characters: each byte is its own <0xXX> token.
  const std::vector<TokenId> ids = tok512().encode("Hi \xF0\x9F\x98\x80 caf\xC3\xA9 \xE6\x97\xA5!", false, false);
  const StreamRun run = stream(tok512(), 426, ids, {});
  for (const std::string& d : run.deltas) EXPECT_TRUE(model::is_valid_utf8(d)) << testing::PrintToString(d);
  EXPECT_EQ(run.text, tok512().decode(ids, 426));
  EXPECT_NE(std::find(run.deltas.begin(), run.deltas.end(), "\xF0\x9F\x98\x80"), run.deltas.end());
  EXPECT_NE(std::find(run.deltas.begin(), run.deltas.end(), "\xE6\x97\xA5"), run.deltas.end());
}

// Byte-level BPE (Llama 3): a rare character's bytes are spread over tokens that each decode to
// part of it; the stream releases only whole characters, and the deltas add up to decode().
TEST(TextStream, ByteLevelBpeTokensSplittingACharacterAreHeldUntilComplete) {
  const std::string text = "Ok \xF0\x9F\xA6\x99 \xE4\xB9\x82\xE9\xBE\x98 caf\xC3\xA9 \xF0\x90\x8C\xB0!";  // 🦙 乂龘 café 𐌰
  const std::vector<TokenId> ids = llama3().encode(text, false, false);
  int partial = 0;  // tokens that are not whole characters on their own
  for (TokenId id : ids) partial += !model::is_valid_utf8(llama3().decode_piece(0, id));
  ASSERT_GT(partial, 0) << "the text no longer splits a character over tokens";
  const StreamRun run = stream(llama3(), 0, ids, {});
  for (const std::string& d : run.deltas) EXPECT_TRUE(model::is_valid_utf8(d)) << testing::PrintToString(d);
  EXPECT_EQ(run.text, text);
  EXPECT_EQ(run.text, llama3().decode(ids));
  // A stop string that ends inside a split character still never leaks a byte of it.
  const StreamRun stopped = stream(llama3(), 0, ids, {"\xE9\xBE\x98"});
  EXPECT_EQ(stopped.text, "Ok \xF0\x9F\xA6\x99 \xE4\xB9\x82");
  for (const std::string& d : stopped.deltas) EXPECT_TRUE(model::is_valid_utf8(d));
}

TEST(TextStream, InvalidBytesBecomeReplacementAndUnfinishedTailIsFlushed) {
  const TokenId b = Tokenizer::kFirstByteToken;
  TextStream ts(tok512(), 426, {});
  EXPECT_EQ(ts.push(b + 0xF0).text, "");  // could still become a character
  EXPECT_EQ(ts.push(b + 0x9F).text, "");
  EXPECT_EQ(ts.push(b + 0x41).text, "\xEF\xBF\xBD" "A");  // broken: one U+FFFD for F0 9F, then 'A'
  EXPECT_EQ(ts.push(b + 0xFF).text, "\xEF\xBF\xBD");     // never valid: replaced at once
  EXPECT_EQ(ts.push(b + 0xE6).text, "");
  EXPECT_EQ(ts.finish(), "\xEF\xBF\xBD");                 // unfinished at the end
  EXPECT_EQ(ts.push(403).text, "");                       // finished: nothing more
}

// Random token streams (biased to byte tokens) on both vocabularies: every delta is valid UTF-8 and
// the deltas add up to decode().
TEST(TextStream, RandomTokensMatchDecode) {
  std::mt19937 rng(5);
  for (const AnyTokenizer* tok : {&tok512(), &tok32k()}) {
    for (int iter = 0; iter < 300; ++iter) {
      std::vector<TokenId> ids;
      for (int i = static_cast<int>(rng() % 30); i > 0; --i) {
        ids.push_back(rng() % 2 ? Tokenizer::kFirstByteToken + static_cast<TokenId>(0x80 + rng() % 0x80)
                                : static_cast<TokenId>(rng() % static_cast<unsigned>(tok->vocab_size())));
      }
      const TokenId prev = rng() % 4 == 0 ? Tokenizer::kBos : 426;
      const StreamRun run = stream(*tok, prev, ids, {});
      for (const std::string& d : run.deltas) ASSERT_TRUE(model::is_valid_utf8(d));
      ASSERT_EQ(run.text, tok->decode(ids, prev));
    }
  }
}

TEST(TextStream, StopStringSplitAcrossTokensIsNeverReleased) {
  // "little girl" spans " little", " g", "ir", "l".
  const StreamRun run = stream(tok512(), Tokenizer::kBos, kStory, {"little girl"});
  EXPECT_EQ(run.text, "Once upon a time, there was a ");
  EXPECT_EQ(run.stopped_at, 11);  // the token "l" that completes it
  for (const std::string& d : run.deltas) EXPECT_EQ(d.find("little"), std::string::npos);
  // While the match grows, nothing of it is released.
  EXPECT_EQ(run.deltas[8], " ");  // " little": " " released, "little" held
  EXPECT_EQ(run.deltas[9], "");
  EXPECT_EQ(run.deltas[10], "");
}

TEST(TextStream, HoldbackIsReleasedAsSoonAsItCannotMatch) {
  TextStream ts(tok512(), Tokenizer::kBos, {"Lily!"});
  std::string got;
  for (std::size_t i = 0; i < 13; ++i) got += ts.push(kStory[i]).text;  // ... named
  EXPECT_EQ(got, "Once upon a time, there was a little girl named");
  EXPECT_EQ(ts.push(317).text, " ");  // " Lily": could start "Lily!"
  const TextStream::Step dot = ts.push(426);  // "." rules it out
  EXPECT_EQ(dot.text, "Lily.");
  EXPECT_FALSE(dot.stopped);
  EXPECT_EQ(ts.push(338).text, " She");
}

TEST(TextStream, EarliestStopStringWinsAndLaterTokensAreIgnored) {
  const StreamRun run = stream(tok512(), Tokenizer::kBos, kStory, {"Lily. She", "named", "zzz"});
  EXPECT_EQ(run.text, "Once upon a time, there was a little girl ");
  EXPECT_EQ(run.stopped_at, 12);
  // Two stop strings completing on the same token: the one starting first wins.
  const StreamRun both = stream(tok512(), Tokenizer::kBos, kStory, {"a time,", "time,"});
  EXPECT_EQ(both.text, "Once upon ");
  TextStream ts(tok512(), Tokenizer::kBos, {"upon"});
  EXPECT_EQ(ts.push(403).text, "Once");
  const TextStream::Step s = ts.push(407);
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(s.text, " ");
  EXPECT_TRUE(ts.push(261).stopped);
  EXPECT_EQ(ts.push(261).text, "");
  EXPECT_EQ(ts.finish(), "");
  EXPECT_EQ(ts.text(), "Once ");
}

TEST(TextStream, FinishReleasesAPartialStopMatch) {
  TextStream ts(tok512(), Tokenizer::kBos, {"a time to"});
  std::string got;
  for (std::size_t i = 0; i < 4; ++i) got += ts.push(kStory[i]).text;
  EXPECT_EQ(got, "Once upon ");
  EXPECT_EQ(ts.finish(), "a time");
  EXPECT_EQ(ts.text(), "Once upon a time");
}

TEST(TextStream, MultiByteStopStringOverByteTokens) {
  const std::vector<TokenId> ids = tok512().encode("ok \xF0\x9F\x98\x80 then \xE6\x97\xA5 end", false, false);
  const StreamRun run = stream(tok512(), 426, ids, {"\xE6\x97\xA5"});
  EXPECT_EQ(run.text, " ok \xF0\x9F\x98\x80 then ");
  EXPECT_GE(run.stopped_at, 0);
  for (const std::string& d : run.deltas) EXPECT_TRUE(model::is_valid_utf8(d));
  // Empty stop strings are ignored.
  EXPECT_EQ(stream(tok512(), 426, ids, {""}).text, tok512().decode(ids, 426));
}

// With random stop strings drawn from the text itself: generation stops at the first token after
// which the decoded text contains a stop string, and the released text ends where the earliest
// contained stop string starts.
TEST(TextStream, RandomStopStringsCutAtFirstCompletedMatch) {
  std::mt19937 rng(11);
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<std::string> stops;
    for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) {
      const std::size_t at = rng() % kStoryText.size();
      stops.push_back(kStoryText.substr(at, 1 + rng() % 8));
    }
    int want_stop = -1;
    std::string want;
    for (std::size_t i = 0; i < kStory.size() && want_stop < 0; ++i) {
      const std::string prefix = tok512().decode(std::span(kStory).first(i + 1), Tokenizer::kBos);
      std::size_t cut = std::string::npos;
      for (const std::string& s : stops) cut = std::min(cut, prefix.find(s));
      if (cut != std::string::npos) {
        want_stop = static_cast<int>(i);
        want = prefix.substr(0, cut);
      }
    }
    const StreamRun run = stream(tok512(), Tokenizer::kBos, kStory, stops);
    ASSERT_EQ(run.stopped_at, want_stop) << stops[0];
    ASSERT_EQ(run.text, want) << stops[0];
  }
}

}  // namespace
}  // namespace ladle::scheduler
