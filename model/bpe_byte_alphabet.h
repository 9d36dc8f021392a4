// bpe_byte_alphabet: GPT-2's printable spelling of bytes, in which byte-level BPE vocabularies
// write their tokens (GPT-2's bytes_to_unicode()): the printable bytes ! .. ~, ¡ .. ¬ and ® .. ÿ
// stand for themselves, and the other 68 (controls, space, DEL, the C1 range, NBSP, soft hyphen)
// for U+0100 onwards in byte order, so space is "Ġ" (U+0120) and LF "Ċ" (U+010A).
// Pure constexpr functions: any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace ladle::model {

// The codepoint that spells byte b.
constexpr std::uint32_t byte_alphabet_codepoint(std::uint8_t b) {
  const auto printable = [](unsigned c) { return (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE; };
  if (printable(b)) return b;
  std::uint32_t n = 0;  // rank of b among the non-printable bytes
  for (unsigned c = 0; c < b; ++c) n += !printable(c);
  return 0x100 + n;
}

// The byte a codepoint spells, if it is one of the alphabet's 256.
inline std::optional<std::uint8_t> byte_of_alphabet_codepoint(std::uint32_t cp) {
  static constexpr auto kTable = [] {
    std::array<std::int16_t, 0x144> t{};
    t.fill(-1);
    for (unsigned b = 0; b < 256; ++b) t[byte_alphabet_codepoint(std::uint8_t(b))] = std::int16_t(b);
    return t;
  }();
  if (cp >= kTable.size() || kTable[cp] < 0) return std::nullopt;
  return std::uint8_t(kTable[cp]);
}

}  // namespace ladle::model
