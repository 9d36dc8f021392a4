// BpeTokenizer beyond the plain-text vectors: special tokens (parsed or not, user-defined ones
// always), BOS/EOS as each file says, the end-of-turn set, per-token bytes that stream through
// the UTF-8 hold-back, and the files and vocabularies it refuses. Expected ids were printed by
// llama.cpp de3ff81's llama-tokenize on the same vocabularies (LADLE_VOCAB_DIR).
#include "model/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/any_tokenizer.h"
#include "model/gguf_file.h"
#include "model/utf8.h"
#include "tests/model/gguf_builder.h"

namespace ladle::model {
namespace {

using Ids = std::vector<TokenId>;
const std::string kVocab = LADLE_VOCAB_DIR;

// Loading a 128k-token vocabulary takes about a second: each file is loaded once per process.
const BpeTokenizer& vocab(const std::string& name) {
  static std::map<std::string, std::unique_ptr<BpeTokenizer>> loaded;
  auto& slot = loaded[name];
  if (!slot) {
    auto file = GgufFile::open(kVocab + "/ggml-vocab-" + name + ".gguf");
    EXPECT_TRUE(file.ok()) << file.error().message;
    auto tok = BpeTokenizer::from_gguf(*file);
    EXPECT_TRUE(tok.ok()) << tok.error().message;
    slot = std::make_unique<BpeTokenizer>(std::move(*tok));
  }
  return *slot;
}

TEST(BpeTokenizer, Llama3ChatHeaderTokensAreParsedOnlyWhenAsked) {
  const BpeTokenizer& t = vocab("llama-bpe");
  const std::string text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
  EXPECT_EQ(t.encode(text, true, true), (Ids{128000, 128006, 882, 128007, 271, 13347, 128009}));
  EXPECT_EQ(t.encode(text, false, true), (Ids{128006, 882, 128007, 271, 13347, 128009}));
  EXPECT_EQ(t.encode(text, true, false), (Ids{128000, 27, 91, 2527, 8932, 851, 91, 29, 882, 27, 91, 408, 8932, 851, 91,
                                              1363, 13347, 27, 91, 68, 354, 851, 91, 29}));
}

TEST(BpeTokenizer, QwenUserDefinedTokensAreAlwaysParsed) {
  const BpeTokenizer& t = vocab("qwen2");
  const std::string text = "<|im_start|>user\nHi[PAD151646]<|im_end|>";
  EXPECT_EQ(t.encode(text, true, true), (Ids{151644, 872, 198, 13048, 151646, 151645}));  // no BOS for Qwen
  EXPECT_EQ(t.encode(text, true, false), (Ids{27, 91, 318, 4906, 91, 29, 872, 198, 13048, 151646, 27, 91, 318, 6213, 91, 29}));
}

TEST(BpeTokenizer, SpecialIdsAndBosAsEachFileSays) {
  const BpeTokenizer& llama = vocab("llama-bpe");
  EXPECT_EQ(llama.bos(), 128000);
  EXPECT_EQ(llama.eos(), 128001);
  EXPECT_EQ(llama.eot(), 128009);  // <|eot_id|>, found by its text
  EXPECT_TRUE(llama.add_bos());
  EXPECT_FALSE(llama.add_eos());
  EXPECT_EQ(llama.end_of_generation(), (Ids{128001, 128009}));
  EXPECT_FALSE(llama.is_end_of_generation(128000));
  EXPECT_EQ(llama.encode("", true, true), (Ids{128000}));
  EXPECT_EQ(llama.encode("", false, true), Ids{});

  const BpeTokenizer& qwen = vocab("qwen2");
  EXPECT_FALSE(qwen.add_bos());
  EXPECT_EQ(qwen.eot(), 151645);  // <|im_end|>
  EXPECT_TRUE(qwen.is_end_of_generation(151643));  // <|endoftext|>, the EOS
  EXPECT_TRUE(qwen.is_end_of_generation(151645));
  EXPECT_FALSE(qwen.is_end_of_generation(151644));

  const BpeTokenizer& gpt2 = vocab("gpt-2");
  EXPECT_EQ(gpt2.bos(), 50256);
  EXPECT_EQ(gpt2.end_of_generation(), (Ids{50256}));
  EXPECT_FALSE(gpt2.add_bos());
}

TEST(BpeTokenizer, ControlTokensDecodeToNothingUserDefinedToTheirText) {
  const BpeTokenizer& qwen = vocab("qwen2");
  EXPECT_EQ(qwen.decode_piece(151645), "");
  EXPECT_EQ(qwen.decode_piece(151646), "[PAD151646]");
  EXPECT_EQ(qwen.decode_piece(-1), "");
  EXPECT_EQ(qwen.decode_piece(qwen.vocab_size()), "");
  const BpeTokenizer& gpt2 = vocab("gpt-2");  // (the smallest file: each test is a process of its own)
  EXPECT_EQ(gpt2.decode_piece(15496), "Hello");
  EXPECT_EQ(gpt2.decode_piece(995), " world");
  EXPECT_EQ(gpt2.decode_piece(198), "\n");
  EXPECT_EQ(gpt2.decode_piece(50256), "");  // <|endoftext|>
}

// A character split over several tokens streams as TextStream assembles it: holding back only an
// unfinished tail, every released prefix is final text, without U+FFFD.
TEST(BpeTokenizer, PiecesOfSplitCharactersStreamWholeCharacters) {
  const BpeTokenizer& t = vocab("gpt-2");
  const std::string text = "Llamas \xF0\x9F\xA6\x99 and \xE1\x9E\x80\xE1\x9E\xB6 \xE4\xBD\xA0\xE5\xA5\xBD!";
  const Ids ids = t.encode(text, false, false);
  int partial_pieces = 0;
  std::string pending, released;
  for (TokenId id : ids) {
    const std::string_view piece = t.decode_piece(id);
    partial_pieces += !is_valid_utf8(piece);
    pending += piece;
    const std::size_t tail = incomplete_utf8_tail(pending);
    append_sanitized_utf8(released, std::string_view(pending).substr(0, pending.size() - tail));
    pending.erase(0, pending.size() - tail);
    EXPECT_EQ(text.compare(0, released.size(), released), 0) << released;
  }
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(released, text);
  EXPECT_GT(partial_pieces, 0) << "the text should hold characters split across tokens";
}

TEST(BpeTokenizer, AnyBytesEncodeAndDecodeBack) {
  const BpeTokenizer& t = vocab("gpt-2");
  const std::string bytes("a\xFF\xC3(\x80 \xED\xA0\x80z\0\x01", 12);  // ill-formed UTF-8, NUL, a control
  const Ids ids = t.encode(bytes, false, false);
  std::string back;
  for (TokenId id : ids) back += t.decode_piece(id);
  EXPECT_EQ(back, bytes);
}

// --- what it refuses ------------------------------------------------------------------------

using testing_gguf::GgufBuilder;

// A tiny gpt2 vocabulary: printable ASCII as itself (ids 0..93), then "ab" (94).
struct Tiny {
  std::string model = "gpt2";
  std::string pre = "gpt-2";  // "" leaves the key out
  std::vector<std::string> merges = {"a b"};
  bool with_merges = true;
  std::optional<std::uint32_t> bos = std::nullopt;
};

Expected<BpeTokenizer> load_tiny(const Tiny& spec) {
  std::vector<std::string> tokens;
  for (char c = '!'; c <= '~'; ++c) tokens.emplace_back(1, c);
  tokens.push_back("ab");
  GgufBuilder g;
  g.str("tokenizer.ggml.model", spec.model).strs("tokenizer.ggml.tokens", tokens);
  if (spec.with_merges) g.strs("tokenizer.ggml.merges", spec.merges);
  if (!spec.pre.empty()) g.str("tokenizer.ggml.pre", spec.pre);
  if (spec.bos) g.u32("tokenizer.ggml.bos_token_id", *spec.bos);
  static std::vector<std::vector<std::byte>> keep;  // GgufFile views the bytes
  keep.push_back(g.build());
  auto file = GgufFile::parse(keep.back(), "tiny.gguf");
  if (!file) return file.error();
  return BpeTokenizer::from_gguf(*file);
}

std::string refusal(const Tiny& spec) {
  auto tok = load_tiny(spec);
  return tok.ok() ? std::string("(loaded)") : tok.error().message;
}

TEST(BpeTokenizer, TinyVocabularyMerges) {
  auto tok = load_tiny({});
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  EXPECT_EQ(tok->encode("abc", false, false), (Ids{94, 'c' - '!'}));
  EXPECT_EQ(tok->encode("cab", false, false), (Ids{'c' - '!', 94}));
  EXPECT_EQ(tok->bos(), 11);  // llama.cpp's default for a gpt2 vocabulary without the key
  // A space has no token here: llama.cpp drops what it cannot spell, and so does ladle.
  EXPECT_EQ(tok->encode("a b", false, false), (Ids{'a' - '!', 'b' - '!'}));
}

TEST(BpeTokenizer, RefusesUnknownOrMissingPreTokenizerByName) {
  EXPECT_NE(refusal({.pre = "smaug-bpe"}).find("unknown pre-tokenizer tokenizer.ggml.pre = 'smaug-bpe'"), std::string::npos)
      << refusal({.pre = "smaug-bpe"});
  EXPECT_NE(refusal({.pre = ""}).find("tokenizer.ggml.pre is missing"), std::string::npos) << refusal({.pre = ""});
}

TEST(BpeTokenizer, RefusesBrokenVocabularies) {
  EXPECT_NE(refusal({.merges = {"ab"}}).find("merge 0 ('ab') has no space"), std::string::npos) << refusal({.merges = {"ab"}});
  EXPECT_NE(refusal({.bos = 9999}).find("tokenizer.ggml.bos_token_id = 9999 is outside the vocabulary of 95 tokens"),
            std::string::npos) << refusal({.bos = 9999});
  EXPECT_NE(refusal({.with_merges = false}).find("'tokenizer.ggml.merges' is missing"), std::string::npos)
      << refusal({.with_merges = false});
  EXPECT_NE(refusal({.model = "llama"}).find("not byte-level BPE"), std::string::npos) << refusal({.model = "llama"});
}

// The GGUF SentencePiece path cuts its control and unknown tokens out of the text the same way,
// each piece of text between them getting SentencePiece's dummy-prefix space.
TEST(AnyTokenizer, SentencePieceParsesItsControlTokensLikeLlamaCpp) {
  auto file = GgufFile::open(kVocab + "/ggml-vocab-llama-spm.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto tok = load_gguf_tokenizer(*file);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const std::string text = "<s>Hi</s> <unk>x<s>\n<s>";
  EXPECT_EQ(tok->encode(text, true, true), (Ids{1, 1, 6324, 2, 259, 0, 921, 1, 29871, 13, 1}));
  EXPECT_EQ(tok->encode(text, false, false), (Ids{529, 29879, 29958, 18567, 829, 29879, 29958, 529, 2960, 29958, 29916,
                                                 29966, 29879, 29958, 13, 29966, 29879, 29958}));
}

TEST(AnyTokenizer, RefusesUnknownTokenizerKindsByName) {
  GgufBuilder g;
  g.str("tokenizer.ggml.model", "t5").strs("tokenizer.ggml.tokens", {"a"});
  const std::vector<std::byte> bytes = g.build();
  auto file = GgufFile::parse(bytes, "tiny.gguf");
  ASSERT_TRUE(file.ok());
  auto tok = load_gguf_tokenizer(*file);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.error().message.find("tokenizer.ggml.model 't5' is not supported"), std::string::npos) << tok.error().message;
}

}  // namespace
}  // namespace ladle::model
