// UTF-8 validation and maximal-subpart repair (see utf8.h).
#include "model/utf8.h"

#include <cstdint>

namespace ladle::model {
namespace {

// Length of the well-formed sequence a lead byte starts, or 0 if `b` cannot start one
// (continuation bytes 80..BF, overlong leads C0/C1, F5..FF).
int sequence_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Whether `b` may follow `lead` as the first continuation byte. The second byte carries the
// overlong, surrogate and >U+10FFFF restrictions; later bytes are any 80..BF.
bool valid_second(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
  }
}

bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// Scans the sequence starting at s[i]. Returns the number of bytes that are well-formed as far as
// they go (>= 1 when the lead is legal), and sets `complete` when they form a whole character.
std::size_t scan(std::string_view s, std::size_t i, bool& complete) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const int need = sequence_length(lead);
  complete = false;
  if (need == 0) return 0;
  std::size_t got = 1;
  while (static_cast<int>(got) < need && i + got < s.size()) {
    const auto b = static_cast<unsigned char>(s[i + got]);
    const bool ok = got == 1 ? valid_second(lead, b) : is_continuation(b);
    if (!ok) return got;
    ++got;
  }
  complete = static_cast<int>(got) == need;
  return got;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII fast path
      ++i;
      continue;
    }
    bool complete = false;
    const std::size_t n = scan(s, i, complete);
    if (!complete) return false;
    i += n;
  }
  return true;
}

void append_sanitized_utf8(std::string& out, std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // Copy the longest run of ASCII in one append.
    std::size_t j = i;
    while (j < s.size() && static_cast<unsigned char>(s[j]) < 0x80) ++j;
    if (j > i) {
      out.append(s.substr(i, j - i));
      i = j;
      continue;
    }
    bool complete = false;
    const std::size_t n = scan(s, i, complete);
    if (complete) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      // One U+FFFD for the maximal subpart (or for a byte that cannot start a sequence); resume
      // at the byte that broke it.
      out.append(kReplacementChar);
      i += n == 0 ? 1 : n;
    }
  }
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_sanitized_utf8(out, s);
  return out;
}

std::size_t incomplete_utf8_tail(std::string_view s) {
  // A lead byte is never consumed as a continuation, so the decoder is at a sequence start at the
  // last lead byte: look back at most 3 bytes for it and check what follows is a legal prefix.
  const std::size_t lookback = s.size() < 3 ? s.size() : 3;
  for (std::size_t k = 1; k <= lookback; ++k) {
    const std::size_t i = s.size() - k;
    const auto b = static_cast<unsigned char>(s[i]);
    if (is_continuation(b)) continue;
    bool complete = false;
    const std::size_t n = scan(s, i, complete);
    return (!complete && n == k) ? k : 0;
  }
  return 0;
}

}  // namespace ladle::model
