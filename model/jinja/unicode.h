// UTF-8 helpers for the jinja library: Python counts, indexes and strips str by code point, so
// the interpreter does too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ladle::jinja {

// Byte offsets of each code point's start, plus s.size() at the end (size = code points + 1).
std::vector<std::size_t> code_point_offsets(std::string_view s);
std::size_t count_code_points(std::string_view s);
// Python's str.isspace() for one code point (ASCII, Latin-1 and Unicode spaces).
bool is_python_space(std::uint32_t cp);
// Python's str.strip()/lstrip()/rstrip() without an argument: Unicode whitespace on either side.
std::string_view python_strip(std::string_view s, bool left, bool right);
// Python's str.upper()/lower()/title()/capitalize() for ASCII, Latin-1, Greek and Cyrillic
// letters; other characters are left as they are (Python maps a few more scripts).
std::string to_upper(std::string_view s);
std::string to_lower(std::string_view s);
std::string to_title(std::string_view s);
std::string capitalize(std::string_view s);

}  // namespace ladle::jinja
