#include "model/jinja/template.h"

#include "model/jinja/error.h"
#include "model/jinja/interpreter.h"
#include "model/jinja/parser.h"

namespace ladle::jinja {
namespace {

Error to_error(const TemplateError& e) {
  std::string where = e.line() > 0 ? "line " + std::to_string(e.line()) + ": " : "";
  return make_error(ErrorCode::kInvalidArgument, where + e.what());
}

}  // namespace

Expected<Template> Template::parse(std::string_view source) {
  try {
    return Template(std::make_shared<const StmtList>(parse_template(source)));
  } catch (const TemplateError& e) {
    return to_error(e);
  }
}

Expected<std::string> Template::render(const ValueDict& variables) const {
  try {
    Interpreter interpreter(variables);
    return interpreter.render(*body_);
  } catch (const TemplateError& e) {
    return to_error(e);
  }
}

}  // namespace ladle::jinja
