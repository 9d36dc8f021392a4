#include "model/jinja/lexer.h"

#include <cctype>
#include <cstdint>

#include "model/jinja/error.h"
#include "model/jinja/unicode.h"
#include "model/utf8_codec.h"

namespace ladle::jinja {
namespace {

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (std::size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

int count_lines(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// The end of a tag opened at `pos` (just past its `{{`/`{%`): the position of the closing
// delimiter's first character, skipping string literals and bracketed parts as Jinja2 does (a
// `}}` inside `{'a': {'b': 1}}` does not close the tag).
std::size_t find_tag_end(const std::string& s, std::size_t pos, char close, int line) {
  int depth = 0;
  for (std::size_t i = pos; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\'' || c == '"') {
      std::size_t j = i + 1;
      while (j < s.size() && s[j] != c) j += s[j] == '\\' ? 2 : 1;
      if (j >= s.size()) throw TemplateError("unterminated string literal", line);
      i = j;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == close && depth == 0 && i + 1 < s.size() && s[i + 1] == '}') {
      return i;
    }
  }
  throw TemplateError(close == '}' ? "unclosed '{{' (no matching '}}')" : "unclosed '{%' (no matching '%}')", line);
}

bool only_spaces(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t') return false;
  return true;
}

}  // namespace

std::vector<Segment> split_template(std::string_view raw) {
  const std::string s = normalize_newlines(raw);
  std::vector<Segment> out;
  std::size_t pos = 0;
  int line = 1;
  bool line_starting = true;  // the previous tag's match ended with a newline (Jinja2's rule)
  while (pos < s.size()) {
    std::size_t open = s.find('{', pos);
    while (open != std::string::npos && open + 1 < s.size() && s[open + 1] != '{' && s[open + 1] != '%' &&
           s[open + 1] != '#')
      open = s.find('{', open + 1);
    if (open == std::string::npos || open + 1 >= s.size()) {
      out.push_back({Segment::Kind::kText, s.substr(pos), line});
      break;
    }
    char type = s[open + 1];
    std::size_t body = open + 2;
    char sign = body < s.size() && (s[body] == '-' || s[body] == '+') ? s[body] : 0;
    if (sign) ++body;
    std::string text = s.substr(pos, open - pos);
    int text_line = line;
    line += count_lines(text);
    if (sign == '-') {  // Python's str.rstrip(): Unicode whitespace too
      text.resize(python_strip(text, false, true).size());
    } else if (sign != '+' && type != '{') {  // lstrip_blocks: statements and comments only
      std::size_t line_start = text.rfind('\n');
      line_start = line_start == std::string::npos ? 0 : line_start + 1;
      if ((line_start > 0 || line_starting) && only_spaces(std::string_view(text).substr(line_start)))
        text.resize(line_start);
    }
    if (!text.empty()) out.push_back({Segment::Kind::kText, std::move(text), text_line});
    int tag_line = line;
    std::size_t end;          // first character of the closing delimiter
    std::size_t after;        // just past it
    std::string inside;
    if (type == '#') {
      end = s.find("#}", body);
      if (end == std::string::npos) throw TemplateError("unclosed comment '{#' (no matching '#}')", tag_line);
      after = end + 2;
    } else {
      end = find_tag_end(s, body, type == '{' ? '}' : '%', tag_line);
      after = end + 2;
      inside = s.substr(body, end - body);
    }
    // The closing marker: '-' strips all following whitespace, '+' keeps the newline,
    // otherwise trim_blocks removes one newline after a statement or comment.
    char close_sign = end > body && (s[end - 1] == '-' || s[end - 1] == '+') ? s[end - 1] : 0;
    if (close_sign == '+' && type == '{') close_sign = 0;
    if (close_sign && type != '#') inside.pop_back();
    if (close_sign == '-') {  // the regex \s*: Unicode whitespace too
      std::string_view rest = std::string_view(s).substr(after);
      after += rest.size() - python_strip(rest, true, false).size();
    } else if (close_sign != '+' && type != '{' && after < s.size() && s[after] == '\n') {
      ++after;
    }
    line += count_lines(std::string_view(s).substr(open, after - open));
    line_starting = after > 0 && s[after - 1] == '\n';
    if (type == '{') out.push_back({Segment::Kind::kExpression, std::move(inside), tag_line});
    if (type == '%') out.push_back({Segment::Kind::kStatement, std::move(inside), tag_line});
    pos = after;
  }
  return out;
}

namespace {

// Python's unicode-escape decoding of a Jinja string literal's inside.
std::string decode_string(std::string_view s, int line) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    auto hex = [&](int digits) {
      if (i + static_cast<std::size_t>(digits) >= s.size())
        throw TemplateError("truncated \\x/\\u escape in a string literal", line);
      std::uint32_t cp = 0;
      for (int k = 0; k < digits; ++k) {
        char h = s[i + 1 + static_cast<std::size_t>(k)];
        if (!std::isxdigit(static_cast<unsigned char>(h)))
          throw TemplateError("bad \\x/\\u escape in a string literal", line);
        cp = cp * 16 + static_cast<std::uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
      }
      i += static_cast<std::size_t>(digits);
      if (cp > 0x10FFFF) throw TemplateError("\\U escape beyond U+10FFFF in a string literal", line);
      model::append_utf8(out, cp);
    };
    switch (c) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '0': out += '\0'; break;
      case '\n': break;  // a backslash-newline joins the lines
      case 'x': hex(2); break;
      case 'u': hex(4); break;
      case 'U': hex(8); break;
      default: out += '\\'; out += c;  // Python keeps unknown escapes as written
    }
  }
  return out;
}

}  // namespace

std::vector<Token> tokenize(std::string_view s, int line) {
  static constexpr std::string_view kTwoChar[] = {"==", "!=", "<=", ">=", "//", "**"};
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      line += c == '\n';
      ++i;
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Token::Kind::kName, std::string(s.substr(i, j - i)), line});
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t j = i;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      bool is_float = false;
      if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
        is_float = true;
        ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        std::size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) {
          is_float = true;
          j = k;
          while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
        }
      }
      out.push_back({is_float ? Token::Kind::kFloat : Token::Kind::kInt, std::string(s.substr(i, j - i)), line});
      i = j;
    } else if (c == '\'' || c == '"') {
      std::size_t j = i + 1;
      while (j < s.size() && s[j] != c) j += s[j] == '\\' ? 2 : 1;
      if (j >= s.size()) throw TemplateError("unterminated string literal", line);
      out.push_back({Token::Kind::kString, decode_string(s.substr(i + 1, j - i - 1), line), line});
      line += count_lines(s.substr(i, j - i));
      i = j + 1;
    } else {
      std::string op(1, c);
      for (auto two : kTwoChar)
        if (s.substr(i, 2) == two) op = std::string(two);
      if (op.size() == 1 && std::string_view("+-*/%~()[]{},.:|=<>").find(c) == std::string_view::npos)
        throw TemplateError(std::string("unexpected character '") + c + "' in a tag", line);
      out.push_back({Token::Kind::kOperator, op, line});
      i += op.size();
    }
  }
  out.push_back({Token::Kind::kEnd, "", line});
  return out;
}

}  // namespace ladle::jinja
