// jinja::Template: a Jinja2 template parsed once (at load) and rendered many times.
//
// The supported subset is what chat templates use: {{ }}, {% if/elif/else %}, {% for %} (with
// `if` filters, `else`, tuple targets, loop.*, break/continue), {% set %} (names, tuples,
// namespace attributes, blocks), {% macro %}, transformers' {% generation %}, comments,
// whitespace control with trim_blocks and lstrip_blocks on (as transformers renders); the
// expressions, filters, tests and methods of parser.h and builtins.h. Anything else is an error
// at parse() naming the construct and its line.
//
// Thread-safety: parse() is a pure function; render() is const and may run on many threads at
// once (each render has its own interpreter state).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "kvcache/expected.h"
#include "model/jinja/ast.h"
#include "model/jinja/value.h"

namespace ladle::jinja {

class Template {
 public:
  // kInvalidArgument "line N: <what>" on a syntax error or an unsupported construct.
  static Expected<Template> parse(std::string_view source);

  // The text for `variables`. kInvalidArgument "line N: <what>" on an error at render time (a
  // type error, an undefined value used, raise_exception()): the template refused.
  Expected<std::string> render(const ValueDict& variables) const;

 private:
  explicit Template(std::shared_ptr<const StmtList> body) : body_(std::move(body)) {}
  std::shared_ptr<const StmtList> body_;
};

}  // namespace ladle::jinja
