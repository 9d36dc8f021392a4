// pretokenize: the words each pre-tokenizer cuts, as llama.cpp's scanners cut them (the ids that
// follow are checked against llama.cpp's vectors in bpe_vocab_vectors_test.cc).
#include "model/pretokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ladle::model {
namespace {

using Words = std::vector<std::string>;

Words split(PreTokenizer kind, std::string_view text) {
  std::vector<std::string_view> words;
  pretokenize(kind, text, words);
  return Words(words.begin(), words.end());
}

TEST(PreTokenizer, NamesAsGgufSpellsThem) {
  EXPECT_EQ(pretokenizer_from_name("llama-bpe"), PreTokenizer::kLlama3);
  EXPECT_EQ(pretokenizer_from_name("qwen2"), PreTokenizer::kQwen2);
  EXPECT_EQ(pretokenizer_from_name("gpt-2"), PreTokenizer::kGpt2);
  EXPECT_EQ(pretokenizer_from_name("default"), PreTokenizer::kDefault);
  EXPECT_EQ(pretokenizer_from_name("smaug-bpe"), std::nullopt);
  EXPECT_EQ(pretokenizer_from_name(""), std::nullopt);
}

TEST(PreTokenizer, Llama3GroupsDigitsByThreeAndFoldsContractions) {
  EXPECT_EQ(split(PreTokenizer::kLlama3, "Hello world 1234567 it'S"),
            (Words{"Hello", " world", " ", "123", "456", "7", " it", "'S"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "a  \n\n b\tc"), (Words{"a", "  \n\n", " b", "\tc"}));
  EXPECT_EQ(split(PreTokenizer::kLlama3, "x!!\n\ny"), (Words{"x", "!!\n\n", "y"}));
}

TEST(PreTokenizer, Qwen2TakesOneDigitPerWord) {
  EXPECT_EQ(split(PreTokenizer::kQwen2, "v1234"), (Words{"v", "1", "2", "3", "4"}));
}

TEST(PreTokenizer, Gpt2KeepsTheSpaceWithTheWordAndContractionsCaseSensitive) {
  EXPECT_EQ(split(PreTokenizer::kGpt2, "Hello   world it's IT'S 42"),
            (Words{"Hello", "  ", " world", " it", "'s", " IT", "'", "S", " 42"}));
  EXPECT_EQ(split(PreTokenizer::kGpt2, "\xC3\x84pfel \xE4\xBD\xA0\xE5\xA5\xBD"), (Words{"\xC3\x84pfel", " \xE4\xBD\xA0\xE5\xA5\xBD"}));
}

TEST(PreTokenizer, DefaultChainsItsFourRegexes) {
  EXPECT_EQ(split(PreTokenizer::kDefault, "a+=b 12345"), (Words{"a", "+=", "b", " ", "123", "45"}));
}

TEST(PreTokenizer, IllFormedBytesStayInTheWords) {
  const std::string text("ab\xFF\xC3 c", 6);
  const Words words = split(PreTokenizer::kLlama3, text);
  std::string joined;
  for (const auto& w : words) joined += w;
  EXPECT_EQ(joined, text);
  EXPECT_TRUE(split(PreTokenizer::kGpt2, "").empty());
}

}  // namespace
}  // namespace ladle::model
