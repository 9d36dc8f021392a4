// The jinja lexer, in two stages as Jinja2's own:
//   split_template(): template text → Segments (text, {{ expression }}, {% statement %}); comments
//     dropped; whitespace control applied as transformers' environment sets it: `{%-`/`-%}`/`{{-`/
//     `-}}` strip all whitespace on that side, trim_blocks removes the newline after a `%}` or
//     `#}`, lstrip_blocks removes the spaces and tabs before a `{%` or `{#` that starts its line
//     (`{%+` keeps them, `+%}` keeps the newline), and one trailing newline of the template is
//     dropped (keep_trailing_newline=False). Newlines are normalised to "\n".
//   tokenize(): the inside of a tag → Tokens (names, strings, numbers, operators).
// Errors (an unclosed tag, an unterminated string, a character Jinja does not know) are
// TemplateErrors with the line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ladle::jinja {

struct Segment {
  enum class Kind { kText, kExpression, kStatement };
  Kind kind;
  std::string text;  // the text, or the tag's inside without its delimiters and +/- markers
  int line;          // 1-based line where the segment starts
};

struct Token {
  enum class Kind { kName, kString, kInt, kFloat, kOperator, kEnd };
  Kind kind;
  std::string text;  // the name, the decoded string, the number's digits, or the operator
  int line;
};

std::vector<Segment> split_template(std::string_view source);
std::vector<Token> tokenize(std::string_view tag, int line);

}  // namespace ladle::jinja
