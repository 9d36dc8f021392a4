// unicode_class: what a byte-level BPE pre-tokenizer asks of a codepoint — its general category
// class (\p{L}, \p{N}, \p{P}, \p{S}, \p{M}, \p{Z}, \p{C}, or unassigned) and whether it is white
// space (\s). The pre-tokenizers walk text with utf8_codec.h, included here.
//
// The data is a generated table of ranges (model/unicode_table.cc, scripts/gen_unicode_table.py,
// from Python's unicodedata; kUnicodeVersion says which Unicode). Free functions over immutable
// data: any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/utf8_codec.h"

namespace ladle::model {

// Flag bits of one codepoint: exactly one class bit, plus kWhitespace.
enum UnicodeFlag : std::uint16_t {
  kUnassigned = 1 << 0,   // Cn, and anything above U+10FFFF
  kNumber = 1 << 1,       // \p{N}
  kLetter = 1 << 2,       // \p{L}
  kSeparator = 1 << 3,    // \p{Z}
  kMark = 1 << 4,         // \p{M}
  kPunctuation = 1 << 5,  // \p{P}
  kSymbol = 1 << 6,       // \p{S}
  kControl = 1 << 7,      // \p{C} other than Cn
  kWhitespace = 1 << 8,   // \s: Unicode's White_Space property
};

namespace unicode_detail {
struct UnicodeRange {
  std::uint32_t start;
  std::uint16_t flags;
};
extern const char kUnicodeVersion[];
extern const UnicodeRange kUnicodeRanges[];
extern const std::size_t kNumUnicodeRanges;
}  // namespace unicode_detail

// The Unicode version the table was generated from ("14.0.0").
inline const char* unicode_version() { return unicode_detail::kUnicodeVersion; }

// The UnicodeFlag bits of `cp` (kUnassigned beyond U+10FFFF).
std::uint16_t unicode_flags(std::uint32_t cp);

inline bool is_letter(std::uint16_t f) { return f & kLetter; }
inline bool is_number(std::uint16_t f) { return f & kNumber; }
inline bool is_whitespace(std::uint16_t f) { return f & kWhitespace; }

}  // namespace ladle::model
