// utf8_codec: one codepoint in and out of UTF-8, strictly (Unicode's Table 3-7). Header-only, so
// that the jinja library (which links nothing of ladle_model) decodes text exactly as the
// pre-tokenizers do. Free functions, no state: any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ladle::model {

// The codepoint starting at text[pos] and its length in bytes. Ill-formed UTF-8 (a stray
// continuation byte, a truncated sequence, an overlong form, a surrogate, beyond U+10FFFF) decodes
// as U+FFFD of length 1, so that every byte of any input belongs to exactly one codepoint.
// Precondition: pos < text.size().
struct DecodedCodepoint {
  std::uint32_t cp;
  std::uint32_t len;
};
inline DecodedCodepoint decode_utf8(std::string_view text, std::size_t pos) {
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

// Appends the UTF-8 encoding of `cp` (<= U+10FFFF).
inline void append_utf8(std::string& out, std::uint32_t cp) {
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
