// bpe_byte_alphabet: GPT-2's bytes_to_unicode(): 256 distinct codepoints, printable bytes as
// themselves, the rest from U+0100 in byte order, and the way back.
#include "model/bpe_byte_alphabet.h"

#include <gtest/gtest.h>

#include <set>

namespace ladle::model {
namespace {

TEST(BpeByteAlphabet, GptTwosSpelling) {
  EXPECT_EQ(byte_alphabet_codepoint('a'), std::uint32_t('a'));
  EXPECT_EQ(byte_alphabet_codepoint(0xE4), 0xE4u);
  EXPECT_EQ(byte_alphabet_codepoint(0x00), 0x100u);
  EXPECT_EQ(byte_alphabet_codepoint('\n'), 0x10Au);  // "Ċ"
  EXPECT_EQ(byte_alphabet_codepoint(' '), 0x120u);   // "Ġ"
  EXPECT_EQ(byte_alphabet_codepoint(0x7F), 0x121u);
  EXPECT_EQ(byte_alphabet_codepoint(0xAD), 0x143u);  // the last: soft hyphen
  std::set<std::uint32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const std::uint32_t cp = byte_alphabet_codepoint(std::uint8_t(b));
    seen.insert(cp);
    EXPECT_EQ(byte_of_alphabet_codepoint(cp), std::uint8_t(b));
  }
  EXPECT_EQ(seen.size(), 256u);
  EXPECT_EQ(byte_of_alphabet_codepoint(0x7F), std::nullopt);  // DEL is spelled U+0121
  EXPECT_EQ(byte_of_alphabet_codepoint(0x144), std::nullopt);
  EXPECT_EQ(byte_of_alphabet_codepoint(0xFFFD), std::nullopt);
}

}  // namespace
}  // namespace ladle::model
