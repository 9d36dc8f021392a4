// Tests for model/tokenizer.h and model/tokenizer_writer.h on the real llama2.c tokenizers in
// LADLE_MODELS_DIR, against a literal transcription of run.c's encode() loop.
#include "model/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <unistd.h>

#include "model/tokenizer_writer.h"
#include "model/utf8.h"

namespace ladle::model {
namespace {

const std::string kModels = LADLE_MODELS_DIR;

const Tokenizer& tok512() {
  static const Tokenizer t = [] {
    auto r = Tokenizer::load(kModels + "/tok512.bin", 512);
    if (!r.ok()) ADD_FAILURE() << r.error().message;
    return std::move(r).value();
  }();
  return t;
}

const Tokenizer& tok32k() {
  static const Tokenizer t = [] {
    auto r = Tokenizer::load(kModels + "/tokenizer32k.bin", 32000);
    if (!r.ok()) ADD_FAILURE() << r.error().message;
    return std::move(r).value();
  }();
  return t;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("ladle_tok_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// run.c's encode(), transcribed loop for loop (vocab lookup by an ordered map instead of bsearch
// over a sorted copy: the same answer for a vocabulary without duplicates).
using VocabMap = std::map<std::string, int>;

VocabMap vocab_map(const Tokenizer& t) {
  VocabMap vocab;
  for (int i = 0; i < t.vocab_size(); ++i) vocab.emplace(t.piece(i), i);
  return vocab;
}

std::vector<TokenId> reference_encode(const Tokenizer& t, const VocabMap& vocab, const std::string& text, bool bos,
                                      bool eos) {
  auto lookup = [&](const std::string& s) { auto it = vocab.find(s); return it == vocab.end() ? -1 : it->second; };
  std::vector<int> tokens;
  if (bos) tokens.push_back(1);
  if (!text.empty()) tokens.push_back(lookup(" "));
  std::string buf;
  for (std::size_t c = 0; c < text.size(); ++c) {
    if ((text[c] & 0xC0) != 0x80) buf.clear();
    buf += text[c];
    const char next = c + 1 < text.size() ? text[c + 1] : '\0';
    if ((next & 0xC0) == 0x80 && buf.size() < 4) continue;
    const int id = lookup(buf);
    if (id != -1) {
      tokens.push_back(id);
    } else {
      for (char b : buf) tokens.push_back(static_cast<unsigned char>(b) + 3);
    }
    buf.clear();
  }
  while (true) {
    float best_score = -1e10f;
    int best_id = -1, best_idx = -1;
    for (int i = 0; i + 1 < static_cast<int>(tokens.size()); ++i) {
      const int id = lookup(t.piece(tokens[i]) + t.piece(tokens[i + 1]));
      if (id != -1 && t.score(id) > best_score) {
        best_score = t.score(id);
        best_id = id;
        best_idx = i;
      }
    }
    if (best_idx == -1) break;
    tokens[best_idx] = best_id;
    tokens.erase(tokens.begin() + best_idx + 1);
  }
  if (eos) tokens.push_back(2);
  return {tokens.begin(), tokens.end()};
}

// Text made of English words, punctuation and multi-byte characters.
std::string random_text(std::mt19937& rng, int words) {
  static const char* kParts[] = {"Once", "upon", "a", "time", "there", "was", "little", "girl", "named",
                                 "Lily", "caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x98\x80", ",", ".",
                                 "!", "  ", "\n", "the", "xyzzy", "Z\xC3\xBCrich", "na\xC3\xAFve", "42", "\t",
                                 "don't", "\xD0\x9F\xD1\x80\xD0\xB8", "\xE2\x82\xAC", "\"Hi\"", "-", "q"};
  std::string s;
  for (int i = 0; i < words; ++i) {
    if (i > 0 && rng() % 3 != 0) s += ' ';
    s += kParts[rng() % std::size(kParts)];
  }
  return s;
}

TEST(Tokenizer, LoadsRealTokenizers) {
  EXPECT_EQ(tok512().vocab_size(), 512);
  EXPECT_EQ(tok512().max_token_length(), 7);
  EXPECT_EQ(tok512().piece(403), " Once");
  EXPECT_EQ(tok512().piece(Tokenizer::kBos), "\n<s>\n");
  EXPECT_EQ(tok32k().vocab_size(), 32000);
  EXPECT_EQ(tok32k().max_token_length(), 27);
  EXPECT_FLOAT_EQ(tok512().score(260), -1.0f);
}

TEST(Tokenizer, EncodesReferencePrompt) {
  EXPECT_EQ(tok512().encode("Once upon a time", true, false), (std::vector<TokenId>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tok512().encode("Once upon a time", false, true), (std::vector<TokenId>{403, 407, 261, 378, 2}));
  EXPECT_EQ(tok512().encode("", true, false), (std::vector<TokenId>{1}));
  EXPECT_TRUE(tok512().encode("", false, false).empty());
}

// REFERENCE.md's 64-token greedy trace decodes to the stdout run.c printed.
TEST(Tokenizer, DecodeReproducesReferenceStdout) {
  const std::string md = read_file(kModels + "/REFERENCE.md");
  const std::string trace = md.substr(md.find("## Token trace"));
  const std::string open = "Full stdout:\n```\n";
  const std::size_t text_begin = trace.find(open) + open.size();
  const std::string printed = trace.substr(text_begin, trace.find("```", text_begin) - text_begin);
  const std::string ids_marker = "Token ids (position 1..64): `[";
  const std::size_t ids_begin = trace.find(ids_marker) + ids_marker.size();
  std::stringstream ids_text(trace.substr(ids_begin, trace.find(']', ids_begin) - ids_begin));
  std::vector<TokenId> ids;
  for (std::string item; std::getline(ids_text, item, ',');) ids.push_back(std::stoi(item));
  ASSERT_EQ(ids.size(), 64u);
  ASSERT_GT(printed.size(), 100u);
  // run.c prints one "\n" after the generated text.
  EXPECT_EQ(tok512().decode(ids, Tokenizer::kBos) + "\n", printed);
}

TEST(Tokenizer, DecodePieceFollowsRunC) {
  EXPECT_EQ(tok512().decode_piece(Tokenizer::kBos, 403), "Once");  // leading space stripped after BOS
  EXPECT_EQ(tok512().decode_piece(378, 403), " Once");
  EXPECT_EQ(tok512().decode_piece(426, 13), "\n");                 // <0x0A>
  EXPECT_EQ(tok512().decode_piece(1, Tokenizer::kFirstByteToken + 0xF0), "\xF0");
  EXPECT_EQ(tok512().decode_piece(1, 0), "<unk>");
  EXPECT_EQ(tok512().decode_piece(1, 512), "");
  EXPECT_EQ(tok512().decode_piece(1, -1), "");
}

void expect_round_trip(const Tokenizer& t, const std::string& text) {
  const std::vector<TokenId> ids = t.encode(text, true, false);
  ASSERT_EQ(ids.front(), Tokenizer::kBos);
  EXPECT_EQ(t.decode(std::span(ids).subspan(1), Tokenizer::kBos), text) << "text: " << text;
}

TEST(Tokenizer, RoundTripsMultiByteText) {
  const std::string texts[] = {
      "Lily said: caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80!",
      "\xF0\x9F\x98\x80 first",
      "  two leading spaces\nand a newline",
      "Z\xC3\xBCrich na\xC3\xAFve \xE2\x82\xAC 42 \xD0\x9F\xD1\x80\xD0\xB8",
  };
  for (const std::string& s : texts) {
    expect_round_trip(tok512(), s);
    expect_round_trip(tok32k(), s);
  }
  // tok512 has no pieces for these: byte fallback <0xXX> per byte.
  const std::vector<TokenId> emoji = tok512().encode("\xF0\x9F\x98\x80", false, false);
  EXPECT_EQ(emoji, (std::vector<TokenId>{410, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}));
}

TEST(Tokenizer, FastEncodeEqualsRunCLoop) {
  std::mt19937 rng(1234);
  const VocabMap v512 = vocab_map(tok512()), v32k = vocab_map(tok32k());
  for (int iter = 0; iter < 300; ++iter) {
    const std::string text = random_text(rng, 1 + static_cast<int>(rng() % 40));
    const bool bos = iter % 2 == 0, eos = iter % 3 == 0;
    ASSERT_EQ(tok512().encode(text, bos, eos), reference_encode(tok512(), v512, text, bos, eos)) << text;
    ASSERT_EQ(tok32k().encode(text, bos, eos), reference_encode(tok32k(), v32k, text, bos, eos)) << text;
  }
  // Runs of one character: equal-score merges at several positions, where leftmost-first matters.
  for (const char* text : {"aaaa", "eeeee", "lll", "     x", "x      y", "=====", "!!!!!!!", "oooo ooo", "----"}) {
    ASSERT_EQ(tok512().encode(text, true, false), reference_encode(tok512(), v512, text, true, false)) << text;
    ASSERT_EQ(tok32k().encode(text, true, false), reference_encode(tok32k(), v32k, text, true, false)) << text;
  }
  // Raw random bytes too: stray continuation bytes and overlong runs take run.c's odd paths.
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    for (int i = static_cast<int>(rng() % 24); i > 0; --i) text += static_cast<char>(1 + rng() % 255);
    ASSERT_EQ(tok32k().encode(text, true, false), reference_encode(tok32k(), v32k, text, true, false));
    ASSERT_EQ(tok512().encode(text, true, false), reference_encode(tok512(), v512, text, true, false));
  }
}

// A long prompt round-trips. (Its speed is a benchmark's business, not a unit test's: a wall-clock
// bound here flaked on a loaded 2-core machine.)
TEST(Tokenizer, LongPromptRoundTrips) {
  std::mt19937 rng(99);
  const std::string text = random_text(rng, 2500);
  const std::vector<TokenId> ids = tok32k().encode(text, true, false);
  EXPECT_GT(ids.size(), 2000u);
  EXPECT_EQ(tok32k().decode(std::span(ids).subspan(1)), text);
}

class CorruptTokenizer : public testing::Test {
 protected:
  void SetUp() override { good_ = read_file(kModels + "/tok512.bin"); }
  void TearDown() override { std::remove(path_.c_str()); }
  Expected<Tokenizer> load_bytes(const std::string& bytes, int vocab = 512) {
    write_file(path_, bytes);
    return Tokenizer::load(path_, vocab);
  }
  std::string good_;
  std::string path_ = temp_path("corrupt.bin");
};

TEST_F(CorruptTokenizer, RefusesTruncatedFiles) {
  ASSERT_EQ(good_.size(), 6227u);
  for (std::size_t cut : {std::size_t{0}, std::size_t{2}, std::size_t{6}, std::size_t{100}, good_.size() - 1}) {
    const auto r = load_bytes(good_.substr(0, cut));
    ASSERT_FALSE(r.ok()) << "cut at " << cut;
    EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;
  }
}

TEST_F(CorruptTokenizer, RefusesWrongEntryCount) {
  auto r = load_bytes(good_, 600);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("ends after 512 entries"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("600"), std::string::npos);
  r = load_bytes(good_, 500);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("more than 500"), std::string::npos) << r.error().message;
  r = load_bytes(good_ + std::string(12, '\0'), 512);  // one extra empty entry + junk
  EXPECT_FALSE(r.ok());
}

TEST_F(CorruptTokenizer, RefusesBadLengthsAndHeader) {
  std::string bad = good_;
  const std::int32_t huge = 1 << 20;
  std::memcpy(bad.data() + 4 + 4, &huge, 4);  // entry 0's length
  auto r = load_bytes(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("entry 0"), std::string::npos) << r.error().message;
  bad = good_;
  const std::int32_t negative = -5;
  std::memcpy(bad.data(), &negative, 4);  // max_token_length
  EXPECT_FALSE(load_bytes(bad).ok());
  EXPECT_FALSE(Tokenizer::load(temp_path("does_not_exist.bin"), 512).ok());
  EXPECT_FALSE(Tokenizer::load(kModels + "/tok512.bin", 100).ok());  // too small for byte pieces
}

TEST(TokenizerWriter, WriteTokenizerRoundTrips) {
  const std::string path = temp_path("written.bin");
  auto pieces = synthetic_tokenizer_pieces(300);
  ASSERT_TRUE(pieces.ok());
  std::vector<float> scores(300);
  for (int i = 0; i < 300; ++i) scores[static_cast<std::size_t>(i)] = 0.5f * static_cast<float>(i);
  ASSERT_TRUE(write_tokenizer(path, *pieces, scores).ok());
  auto t = Tokenizer::load(path, 300);
  ASSERT_TRUE(t.ok()) << t.error().message;
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(t->piece(i), (*pieces)[static_cast<std::size_t>(i)]);
    ASSERT_EQ(t->score(i), scores[static_cast<std::size_t>(i)]);
  }
  std::remove(path.c_str());
  EXPECT_FALSE(write_tokenizer(path, *pieces, std::span(scores).first(10)).ok());
}

TEST(TokenizerWriter, SyntheticTokenizerIsRealistic) {
  EXPECT_FALSE(write_synthetic_tokenizer(temp_path("small.bin"), 258).ok());
  for (int vocab : {259, 512, 4096, 32000}) {
    const std::string path = temp_path("synthetic.bin");
    ASSERT_TRUE(write_synthetic_tokenizer(path, vocab).ok());
    auto t = Tokenizer::load(path, vocab);
    std::remove(path.c_str());
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(t->piece(0), "<unk>");
    EXPECT_EQ(t->piece(1), "\n<s>\n");
    EXPECT_EQ(t->piece(2), "\n</s>\n");
    EXPECT_EQ(t->piece(3 + 0x41), "<0x41>");
    std::map<std::string, int> seen;
    for (int id = 0; id < vocab; ++id) {
      ASSERT_TRUE(seen.emplace(t->piece(id), id).second) << "duplicate piece " << t->piece(id);
      if (id >= Tokenizer::kMinVocabSize) {
        ASSERT_EQ(t->score(id), -static_cast<float>(id - Tokenizer::kMinVocabSize));
        const std::string& p = t->piece(id);
        if (p.size() < 2) continue;
        bool reachable = false;  // the concatenation of two earlier pieces
        for (std::size_t k = 1; k < p.size() && !reachable; ++k) {
          const auto a = seen.find(p.substr(0, k)), b = seen.find(p.substr(k));
          reachable = a != seen.end() && b != seen.end() && a->second < id && b->second < id;
        }
        ASSERT_TRUE(reachable) << "piece " << id << " '" << p << "'";
      }
    }
    const std::string text = "Once upon a time, there was a little girl named Lily. She said \"hi\" \xC3\xA9!";
    const std::vector<TokenId> ids = t->encode(text, true, false);
    if (vocab > Tokenizer::kMinVocabSize) {  // run.c needs a " " piece for its dummy prefix
      EXPECT_EQ(ids, reference_encode(*t, vocab_map(*t), text, true, false));
    }
    EXPECT_EQ(t->decode(std::span(ids).subspan(1)), text);
    if (vocab >= 4096) {
      std::string shown;
      for (TokenId id : ids) shown += "[" + t->piece(id) + "]";
      const auto words = std::count_if(ids.begin(), ids.end(), [&](TokenId id) { return t->piece(id).size() >= 4; });
      EXPECT_GE(words, 10) << "vocab " << vocab << ": " << shown;
      EXPECT_LT(ids.size(), text.size() / 2) << "vocab " << vocab << ": " << shown;
      EXPECT_EQ(t->piece(ids[1]), " Once");
    }
  }
}

}  // namespace
}  // namespace ladle::model
