// tokenizer_from_gguf: the real llama2.c vocabularies (tok512, the Llama 2 32k) put into GGUF
// metadata the way llama.cpp's converter spells them ("▁" for spaces, <s>/</s> as control tokens,
// byte pieces typed 6) encode every test text to the same ids as ladle's tokenizer.bin path and
// decode them to the same text; control tokens are never produced from text and decode to "";
// and every tokenizer ladle cannot honour is refused by name.
#include "model/gguf_tokenizer.h"

#include "model/any_tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "tests/model/gguf_builder.h"

namespace ladle::model {
namespace {

using namespace ladle::testing_gguf;

const std::string kModels = LADLE_MODELS_DIR;

// llama.cpp's convert-llama2c-to-ggml load_vocab(): <unk>/<s>/</s> at 0/1/2, "<0xXX>" pieces typed
// byte, every space escaped to "▁".
void add_vocab(GgufBuilder& g, const Tokenizer& bin, const std::function<void(std::vector<std::string>&,
                                                                                std::vector<std::int32_t>&)>& edit = {}) {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  for (TokenId id = 0; id < bin.vocab_size(); ++id) {
    std::string p = bin.piece(id);
    std::int32_t type = 1;
    if (id <= 2) {
      static const char* const kSpecial[] = {"<unk>", "<s>", "</s>"};
      p = kSpecial[id];
      type = id == 0 ? 2 : 3;
    } else if (p.size() == 6 && p.rfind("<0x", 0) == 0) {
      type = 6;
    }
    std::string escaped;
    for (char c : p) {
      if (c == ' ') escaped.append("\xE2\x96\x81");
      else escaped.push_back(c);
    }
    tokens.push_back(escaped);
    scores.push_back(bin.score(id));
    types.push_back(type);
  }
  if (edit) edit(tokens, types);
  g.str("tokenizer.ggml.model", "llama").strs("tokenizer.ggml.tokens", tokens);
  g.array<float>("tokenizer.ggml.scores", kF32, scores).array<std::int32_t>("tokenizer.ggml.token_type", kI32, types);
  g.u32("tokenizer.ggml.bos_token_id", 1).u32("tokenizer.ggml.eos_token_id", 2).u32("tokenizer.ggml.unknown_token_id", 0);
}

Tokenizer bin_tokenizer(const std::string& file, int n) {
  auto t = Tokenizer::load(kModels + "/" + file, n);
  EXPECT_TRUE(t.ok()) << t.error().message;
  return std::move(*t);
}

Expected<Tokenizer> from(const GgufBuilder& g, int n) {
  const auto bytes = g.build();
  auto f = GgufFile::parse(bytes, "v.gguf");
  if (!f) return f.error();
  return tokenizer_from_gguf(*f, n);  // the Tokenizer owns copies: the bytes may go
}

const std::vector<std::string> kTexts = {
    "", "Once upon a time", "Once upon a time, there was a little girl named Lily.",
    " leading space", "two  spaces\nand a newline\n\n", "Tim's dog said: \"Woof!\" (twice)",
    "numbers 12345 and 3.14", "naïve café – “quotes” …", "日本語のテキスト", "emoji 🙂👍🏽",
    "tabs\tand\rcarriage", "a<s>b</s>c", "<unk> <0x41>", "\x01\x7f control bytes", "The end."};

TEST(GgufTokenizer, EncodesAndDecodesLikeTheBinPath) {
  for (auto [file, n] : {std::pair{"tok512.bin", 512}, std::pair{"tokenizer32k.bin", 32000}}) {
    SCOPED_TRACE(file);
    const Tokenizer bin = bin_tokenizer(file, n);
    GgufBuilder g;
    add_vocab(g, bin);
    auto gg = from(g, n);
    ASSERT_TRUE(gg.ok()) << gg.error().message;
    EXPECT_EQ(gg->vocab_size(), n);
    EXPECT_EQ(gg->bos(), 1);
    EXPECT_EQ(gg->eos(), 2);
    for (const std::string& text : kTexts) {
      const std::vector<TokenId> ids = bin.encode(text, true, false);
      EXPECT_EQ(gg->encode(text, true, false), ids) << "'" << text << "'";
      EXPECT_EQ(gg->encode(text, false, true), bin.encode(text, false, true)) << "'" << text << "'";
      // The engine never prints BOS (the .bin spells it "\n<s>\n"): the text after it.
      const std::span<const TokenId> after_bos(ids.data() + 1, ids.size() - 1);
      EXPECT_EQ(gg->decode(after_bos), bin.decode(after_bos)) << "'" << text << "'";
      for (std::size_t i = 1; i < ids.size(); ++i)
        EXPECT_EQ(gg->decode_piece(ids[i - 1], ids[i]), bin.decode_piece(ids[i - 1], ids[i])) << text << " at " << i;
    }
    // Control tokens decode to nothing (the .bin spells them "\n<s>\n"), byte pieces to their byte.
    EXPECT_EQ(gg->decode_piece(5, 1), "");
    EXPECT_EQ(gg->decode_piece(5, 2), "");
    EXPECT_EQ(gg->decode_piece(5, 3 + 'A'), "A");
  }
}

TEST(GgufTokenizer, ControlPiecesAreNeverMatchedInText) {
  // A vocabulary in which "<s>" could be assembled by merges: pieces "<", "s", ">", "<s" exist.
  const Tokenizer bin = bin_tokenizer("tok512.bin", 512);
  GgufBuilder g;
  add_vocab(g, bin, [](std::vector<std::string>& tokens, std::vector<std::int32_t>&) {
    const std::vector<std::string> pieces = {"<", "s", ">", "<s"};
    std::copy(pieces.begin(), pieces.end(), tokens.begin() + 300);
  });
  auto gg = from(g, 512);
  ASSERT_TRUE(gg.ok()) << gg.error().message;
  const std::vector<TokenId> ids = gg->encode("<s>", false, false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 0);
  EXPECT_EQ(gg->decode(ids), "<s>");
}

TEST(GgufTokenizer, HonoursAddSpacePrefix) {
  const Tokenizer bin = bin_tokenizer("tok512.bin", 512);
  GgufBuilder g;
  add_vocab(g, bin);
  g.boolean("tokenizer.ggml.add_space_prefix", false);
  auto gg = from(g, 512);
  ASSERT_TRUE(gg.ok()) << gg.error().message;
  const auto with = bin.encode("Once", false, false), without = gg->encode("Once", false, false);
  EXPECT_NE(with, without);
  EXPECT_EQ(gg->decode(without, 0), "Once");
}

TEST(GgufTokenizer, RefusesWhatLadleCannotHonour) {
  const Tokenizer bin = bin_tokenizer("tok512.bin", 512);
  auto expect = [&](const std::function<void(GgufBuilder&)>& make, int n, const std::string& want) {
    GgufBuilder g;
    make(g);
    auto t = from(g, n);
    const std::string e = t.ok() ? "(loaded)" : t.error().message;
    EXPECT_NE(e.find(want), std::string::npos) << "wanted '" << want << "', got: " << e;
  };
  expect([](GgufBuilder& g) { g.str("tokenizer.ggml.model", "gpt2"); }, 512,
         "tokenizer.ggml.model 'gpt2' is not supported");
  expect([](GgufBuilder&) {}, 512, "'tokenizer.ggml.model' is missing");
  expect([&](GgufBuilder& g) { add_vocab(g, bin); }, 600, "'tokenizer.ggml.tokens' has 512 entries, expected 600");
  expect([&](GgufBuilder& g) {
    g.str("tokenizer.ggml.model", "llama").strs("tokenizer.ggml.tokens", std::vector<std::string>(512, "x"));
  }, 512, "'tokenizer.ggml.scores' is missing");
  expect([&](GgufBuilder& g) {
    g.str("tokenizer.ggml.model", "llama").u32("tokenizer.ggml.tokens", 3);
  }, 512, "'tokenizer.ggml.tokens' is a u32, not the expected array");
  expect([&](GgufBuilder& g) { add_vocab(g, bin, [](auto&, auto& types) { types[9] = 9; }); }, 512,
         "token_type of token 9 is 9");
  expect([&](GgufBuilder& g) { add_vocab(g, bin, [](auto& tokens, auto&) { tokens[3 + 0x41] = "A?"; }); }, 512,
         "no byte piece <0x41>");
  expect([&](GgufBuilder& g) {
    std::vector<std::string> tokens;
    std::vector<float> scores;
    for (TokenId id = 0; id < 512; ++id) tokens.push_back(bin.piece(id)), scores.push_back(bin.score(id));
    g.str("tokenizer.ggml.model", "llama").strs("tokenizer.ggml.tokens", tokens);
    g.array<float>("tokenizer.ggml.scores", kF32, scores).u32("tokenizer.ggml.bos_token_id", 512);
  }, 512, "tokenizer.ggml.bos_token_id is 512, outside the vocabulary");
}

TEST(GgufTokenizer, TakesItsOwnSpecialIds) {
  const Tokenizer bin = bin_tokenizer("tok512.bin", 512);
  GgufBuilder g;
  std::vector<std::string> tokens;
  std::vector<float> scores;
  for (TokenId id = 0; id < 512; ++id) tokens.push_back(bin.piece(id)), scores.push_back(bin.score(id));
  g.str("tokenizer.ggml.model", "llama").strs("tokenizer.ggml.tokens", tokens);
  g.array<float>("tokenizer.ggml.scores", kF32, scores).u32("tokenizer.ggml.eos_token_id", 7);
  auto t = from(g, 512);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->eos(), 7);
  EXPECT_EQ(t->bos(), Tokenizer::kBos);  // llama.cpp's default
}

// add_bos_token / add_eos_token and the end-of-turn tokens, as the engine gets them (AnyTokenizer):
// a Gemma-like vocabulary with a control <end_of_turn>, no BOS added, EOS added.
TEST(GgufTokenizer, FlagsAndEndOfTurnTokensReachTheAnyTokenizer) {
  const Tokenizer bin = bin_tokenizer("tok512.bin", 512);
  GgufBuilder g;
  add_vocab(g, bin, [](auto& tokens, auto& types) {
    tokens[300] = "<end_of_turn>", types[300] = 3;
    tokens[301] = "<|end|>", types[301] = 4;  // user-defined: text, not an end of turn
  });
  g.boolean("tokenizer.ggml.add_bos_token", false).boolean("tokenizer.ggml.add_eos_token", true);
  g.u32("tokenizer.ggml.eom_token_id", 42);
  const auto bytes = g.build();
  auto f = GgufFile::parse(bytes, "v.gguf");
  ASSERT_TRUE(f.ok());
  auto t = load_gguf_tokenizer(*f);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_FALSE(t->add_bos());
  EXPECT_TRUE(t->add_eos());
  const auto ids = t->encode("Once<end_of_turn>", true, true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_NE(ids.front(), Tokenizer::kBos);
  EXPECT_EQ(ids.back(), Tokenizer::kEos);
  EXPECT_EQ(ids[ids.size() - 2], 300);
  EXPECT_EQ(t->end_of_generation(), (std::vector<TokenId>{Tokenizer::kEos, 42, 300}));
  EXPECT_TRUE(t->is_end_of_generation(300));
  EXPECT_FALSE(t->is_end_of_generation(301));
  EXPECT_EQ(t->encode("Once", false, false), bin.encode("Once", false, false));
}

}  // namespace
}  // namespace ladle::model
