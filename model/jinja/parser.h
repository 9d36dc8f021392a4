// The jinja parser: Segments (lexer.h) → a statement tree (ast.h), with Jinja2's precedence
// (`or` < `and` < `not` < comparisons and `in` < `+ -` < `~` < `* / // %` < `**` < unary minus <
// filters, tests, calls, attributes and subscripts).
//
// Everything is checked here, at load: an unknown statement, filter, test or method is a
// TemplateError naming the construct and its line, so a template that uses what the interpreter
// lacks fails when the model loads rather than rendering a wrong prompt.
#pragma once

#include <string_view>

#include "model/jinja/ast.h"

namespace ladle::jinja {

StmtList parse_template(std::string_view source);

}  // namespace ladle::jinja
