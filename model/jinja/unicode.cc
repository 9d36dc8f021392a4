#include "model/jinja/unicode.h"

#include "model/utf8_codec.h"

namespace ladle::jinja {
namespace {

// Decodes the code point at s[i] (advancing i); ill-formed bytes decode one by one as U+FFFD
// (model/utf8_codec.h), so they are never taken for a space or a letter.
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  const model::DecodedCodepoint d = model::decode_utf8(s, i);
  i += d.len;
  return d.cp;
}

std::uint32_t upper_cp(std::uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if ((c >= 0xe0 && c <= 0xfe && c != 0xf7)) return c - 32;
  if (c == 0xff) return 0x178;
  if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) return c - 32;
  if (c >= 0x430 && c <= 0x44f) return c - 32;
  if (c >= 0x450 && c <= 0x45f) return c - 80;
  return c;
}

std::uint32_t lower_cp(std::uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if ((c >= 0xc0 && c <= 0xde && c != 0xd7)) return c + 32;
  if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 32;
  if (c >= 0x410 && c <= 0x42f) return c + 32;
  if (c >= 0x400 && c <= 0x40f) return c + 80;
  return c;
}

bool is_cased(std::uint32_t c) { return upper_cp(c) != c || lower_cp(c) != c; }

template <class F>
std::string map_code_points(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  std::size_t n = 0;
  bool prev_cased = false;
  while (i < s.size()) {
    std::size_t start = i;
    std::uint32_t cp = next_code_point(s, i);
    std::uint32_t mapped = f(cp, n++, prev_cased);
    prev_cased = is_cased(cp);
    if (mapped == cp) out.append(s.substr(start, i - start));
    else model::append_utf8(out, mapped);
  }
  return out;
}

}  // namespace

std::vector<std::size_t> code_point_offsets(std::string_view s) {
  std::vector<std::size_t> out;
  std::size_t i = 0;
  while (i < s.size()) {
    out.push_back(i);
    next_code_point(s, i);
  }
  out.push_back(s.size());
  return out;
}

std::size_t count_code_points(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++n) next_code_point(s, i);
  return n;
}

bool is_python_space(std::uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

std::string_view python_strip(std::string_view s, bool left, bool right) {
  std::size_t begin = 0;
  std::size_t end = s.size();
  if (left) {
    while (begin < end) {
      std::size_t i = begin;
      if (!is_python_space(next_code_point(s, i))) break;
      begin = i;
    }
  }
  if (right) {
    while (end > begin) {
      std::size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(s[start]) & 0xc0) == 0x80) --start;
      std::size_t i = start;
      if (!is_python_space(next_code_point(s, i))) break;
      end = start;
    }
  }
  return s.substr(begin, end - begin);
}

std::string to_upper(std::string_view s) {
  return map_code_points(s, [](std::uint32_t c, std::size_t, bool) { return upper_cp(c); });
}

std::string to_lower(std::string_view s) {
  return map_code_points(s, [](std::uint32_t c, std::size_t, bool) { return lower_cp(c); });
}

std::string to_title(std::string_view s) {
  return map_code_points(s, [](std::uint32_t c, std::size_t, bool prev_cased) {
    return prev_cased ? lower_cp(c) : upper_cp(c);
  });
}

std::string capitalize(std::string_view s) {
  return map_code_points(s, [](std::uint32_t c, std::size_t n, bool) { return n == 0 ? upper_cp(c) : lower_cp(c); });
}

}  // namespace ladle::jinja
