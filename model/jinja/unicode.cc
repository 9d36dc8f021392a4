#include "model/jinja/unicode.h"

namespace ladle::jinja {
namespace {

// Decodes the code point at s[i] (advancing i); bad bytes decode as themselves.
std::uint32_t next_code_point(std::string_view s, std::size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
  if (i + static_cast<std::size_t>(len) > s.size()) len = 1;
  std::uint32_t cp = len == 1 ? b : b & (0x7f >> len);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0x3f);
  i += static_cast<std::size_t>(len);
  return cp;
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
    else append_utf8(out, mapped);
  }
  return out;
}

}  // namespace

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

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
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
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
