// unicode_class: codepoint flags from the generated range table, and UTF-8 decoding (see
// unicode_class.h).
#include "model/unicode_class.h"

#include <algorithm>

namespace ladle::model {

std::uint16_t unicode_flags(std::uint32_t cp) {
  using unicode_detail::kNumUnicodeRanges;
  using unicode_detail::kUnicodeRanges;
  if (cp >= 0x110000) return kUnassigned;
  // The last range whose start is <= cp (the first range starts at 0).
  const auto* end = kUnicodeRanges + kNumUnicodeRanges;
  const auto* it = std::upper_bound(kUnicodeRanges, end, cp,
                                    [](std::uint32_t c, const unicode_detail::UnicodeRange& r) { return c < r.start; });
  return (it - 1)->flags;
}

DecodedCodepoint decode_utf8(std::string_view text, std::size_t pos) {
  constexpr DecodedCodepoint kBad{0xFFFD, 1};
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(pos);
  if (b0 < 0x80) return {b0, 1};
  std::uint32_t len, cp, min;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return kBad;  // a continuation byte, C0/C1 (always overlong), or F5..FF
  }
  if (pos + len > text.size()) return kBad;
  for (std::uint32_t i = 1; i < len; ++i) {
    const unsigned char b = byte(pos + i);
    if ((b & 0xC0) != 0x80) return kBad;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kBad;
  return {cp, len};
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace ladle::model
