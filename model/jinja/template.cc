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
  } catch (const std::exception& e) {  // std::bad_alloc and the like: still an error, not a crash
    return make_error(ErrorCode::kInvalidArgument, std::string("template: ") + e.what());
  }
}

Expected<std::string> Template::render(const ValueDict& variables) const {
  try {
    Interpreter interpreter(variables);
    std::string out = interpreter.render(*body_);
    if (out.size() > kMaxValueBytes) throw TemplateError("the template's output passed 64 MiB");
    return out;
  } catch (const TemplateError& e) {
    return to_error(e);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, std::string("template: ") + e.what());
  }
}

}  // namespace ladle::jinja
