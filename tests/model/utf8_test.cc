// Tests for model/utf8.h against Unicode's examples and an independent table-driven reference.
#include "model/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <unordered_set>

namespace ladle::model {
namespace {

const std::string kFffd(kReplacementChar);

// Reference decoder built from the definition: the set of all encodings of scalar values
// (U+0000..U+10FFFF minus surrogates) and of all their proper prefixes.
class ReferenceUtf8 {
 public:
  ReferenceUtf8() {
    for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
      if (cp >= 0xD800 && cp <= 0xDFFF) continue;
      const std::string e = encode(cp);
      complete_.insert(e);
      for (std::size_t k = 1; k < e.size(); ++k) prefixes_.insert(e.substr(0, k));
    }
  }
  static std::string encode(std::uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  }
  // Maximal-subpart replacement; `tail` gets the length of an unfinished prefix at the very end.
  std::string sanitize(const std::string& s, std::size_t* tail = nullptr) const {
    std::string out;
    std::size_t i = 0;
    if (tail) *tail = 0;
    while (i < s.size()) {
      std::size_t best = 0;
      bool done = false;
      for (std::size_t k = 1; k <= 4 && i + k <= s.size(); ++k) {
        const std::string p = s.substr(i, k);
        if (complete_.count(p)) {
          out += p;
          i += k;
          done = true;
          break;
        }
        if (!prefixes_.count(p)) break;
        best = k;
      }
      if (done) continue;
      if (tail && best > 0 && i + best == s.size()) *tail = best;
      out += kFffd;
      i += best == 0 ? 1 : best;
    }
    return out;
  }

 private:
  std::unordered_set<std::string> complete_, prefixes_;
};

const ReferenceUtf8& reference() {
  static const ReferenceUtf8 r;
  return r;
}

TEST(Utf8, ValidStrings) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii\n"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"));
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(is_valid_utf8(std::string("a\0b", 3)));
}

TEST(Utf8, InvalidStrings) {
  EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));      // truncated emoji
  EXPECT_FALSE(is_valid_utf8("ok\xFF"));
}

TEST(Utf8, SanitizeFollowsUnicodeMaximalSubpartExample) {
  // Unicode 15, §3.9, Table 3-11 (U+FFFD for maximal subparts).
  EXPECT_EQ(sanitize_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + kFffd + kFffd + kFffd + "b" + kFffd + "c" + kFffd + kFffd + "d");
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // ED cannot take A0
  EXPECT_EQ(sanitize_utf8("\xC0\xAF"), kFffd + kFffd);
  EXPECT_EQ(sanitize_utf8("x\xF0\x9F\x98"), "x" + kFffd);  // one U+FFFD for the unfinished emoji
  EXPECT_EQ(sanitize_utf8("\xF0\x9F\x98y"), kFffd + "y");
}

TEST(Utf8, SanitizeKeepsValidTextUnchanged) {
  const std::string s = "Lily \xC3\xA9t\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC\xF0\x9F\x98\x80!";
  EXPECT_EQ(sanitize_utf8(s), s);
}

TEST(Utf8, IncompleteTail) {
  EXPECT_EQ(incomplete_utf8_tail(""), 0u);
  EXPECT_EQ(incomplete_utf8_tail("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("a\xF0"), 1u);
  EXPECT_EQ(incomplete_utf8_tail("a\xF0\x9F"), 2u);
  EXPECT_EQ(incomplete_utf8_tail("a\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_tail("a\xF0\x9F\x98\x80"), 0u);  // complete
  EXPECT_EQ(incomplete_utf8_tail("a\xE0\x80"), 0u);          // already ill-formed
  EXPECT_EQ(incomplete_utf8_tail("\x80\x80\x80"), 0u);       // no lead byte
  EXPECT_EQ(incomplete_utf8_tail("\xC3"), 1u);
}

// Random byte strings biased towards UTF-8 structure, checked against the reference decoder.
TEST(Utf8, MatchesReferenceOnRandomBytes) {
  const std::string alphabet = "a \x80\x8F\x90\x9F\xA0\xBF\xC0\xC2\xDF\xE0\xE1\xED\xEF\xF0\xF1\xF4\xF5\xFF";
  std::mt19937 rng(7);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s;
    const int len = static_cast<int>(rng() % 10);
    for (int i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
    std::size_t ref_tail = 0;
    const std::string want = reference().sanitize(s, &ref_tail);
    ASSERT_EQ(sanitize_utf8(s), want) << "input bytes: " << testing::PrintToString(s);
    ASSERT_EQ(is_valid_utf8(s), want == s);
    ASSERT_TRUE(is_valid_utf8(want));
    ASSERT_EQ(incomplete_utf8_tail(s), ref_tail) << testing::PrintToString(s);
    // Streaming property: what precedes the unfinished tail sanitizes the same in any split.
    const std::size_t cut = s.size() - incomplete_utf8_tail(s);
    ASSERT_EQ(sanitize_utf8(s.substr(0, cut)) + sanitize_utf8(s.substr(cut)), want);
  }
}

TEST(Utf8, AppendSanitizedAppends) {
  std::string out = "x";
  append_sanitized_utf8(out, "\xFF" "y");
  EXPECT_EQ(out, "x" + kFffd + "y");
}

}  // namespace
}  // namespace ladle::model
