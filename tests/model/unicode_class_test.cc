// unicode_class: the generated table's classes for codepoints the pre-tokenizers care about, and
// UTF-8 decoding that gives every ill-formed byte its own U+FFFD.
#include "model/unicode_class.h"

#include <gtest/gtest.h>

#include <string>

namespace ladle::model {
namespace {

TEST(UnicodeClass, ClassesOfTheTable) {
  EXPECT_STREQ(unicode_version(), "14.0.0");
  EXPECT_EQ(unicode_flags('a'), kLetter);
  EXPECT_EQ(unicode_flags(0x00C4), kLetter);   // Ä
  EXPECT_EQ(unicode_flags(0x4F60), kLetter);   // 你
  EXPECT_EQ(unicode_flags('7'), kNumber);
  EXPECT_EQ(unicode_flags(0x0663), kNumber);   // Arabic-Indic three
  EXPECT_EQ(unicode_flags(0x00BD), kNumber);   // ½ (No)
  EXPECT_EQ(unicode_flags('!'), kPunctuation);
  EXPECT_EQ(unicode_flags('$'), kSymbol);
  EXPECT_EQ(unicode_flags(0x1F999), kSymbol);  // 🦙
  EXPECT_EQ(unicode_flags(0x0301), kMark);     // combining acute
  EXPECT_EQ(unicode_flags(' '), kSeparator | kWhitespace);
  EXPECT_EQ(unicode_flags(0x3000), kSeparator | kWhitespace);
  EXPECT_EQ(unicode_flags('\n'), kControl | kWhitespace);
  EXPECT_EQ(unicode_flags(0x0085), kControl | kWhitespace);
  EXPECT_EQ(unicode_flags(0x001C), kControl);  // not White_Space, though Python's isspace() says so
  EXPECT_EQ(unicode_flags(0x200D), kControl);  // ZWJ (Cf)
  EXPECT_EQ(unicode_flags(0x0378), kUnassigned);
  EXPECT_EQ(unicode_flags(0x10FFFF), kUnassigned);
  EXPECT_EQ(unicode_flags(0x110000), kUnassigned);
}

TEST(UnicodeClass, DecodesWellFormedAndGivesEachBadByteItsOwnReplacement) {
  const std::string s = "a\xC3\xA4\xE4\xBD\xA0\xF0\x9F\xA6\x99";
  EXPECT_EQ(decode_utf8(s, 0).cp, 'a');
  EXPECT_EQ(decode_utf8(s, 1).cp, 0xE4u);
  EXPECT_EQ(decode_utf8(s, 1).len, 2u);
  EXPECT_EQ(decode_utf8(s, 3).cp, 0x4F60u);
  EXPECT_EQ(decode_utf8(s, 6).cp, 0x1F999u);
  EXPECT_EQ(decode_utf8(s, 6).len, 4u);
  for (const std::string bad : {"\x80", "\xC0\x80", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "\xE4\xBD"}) {
    const DecodedCodepoint d = decode_utf8(bad, 0);
    EXPECT_EQ(d.cp, 0xFFFDu) << bad.size();
    EXPECT_EQ(d.len, 1u);
  }
  std::string out;
  for (std::uint32_t cp : {0x41u, 0xE4u, 0x4F60u, 0x1F999u}) append_utf8(out, cp);
  EXPECT_EQ(out, "A\xC3\xA4\xE4\xBD\xA0\xF0\x9F\xA6\x99");
}

}  // namespace
}  // namespace ladle::model
