// jinja::TemplateError: what the lexer, parser and interpreter throw, carrying the template line.
//
// Exceptions stay inside the jinja library: Template and JinjaChatTemplate catch them and return
// an Expected (kvcache/expected.h) at their public APIs.
#pragma once

#include <stdexcept>
#include <string>

namespace ladle::jinja {

class TemplateError : public std::runtime_error {
 public:
  // line 0: not known where the error is thrown (a value operation); the interpreter adds it.
  TemplateError(std::string message, int line = 0)
      : std::runtime_error(std::move(message)), line_(line) {}
  int line() const { return line_; }

 private:
  int line_;
};

// raise_exception(message) in a template: the template's own refusal of a conversation.
class RaisedError : public TemplateError {
 public:
  using TemplateError::TemplateError;
};

}  // namespace ladle::jinja
