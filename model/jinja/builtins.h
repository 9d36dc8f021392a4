// The filters, tests and methods the interpreter implements: the ones the chat templates of
// real models use (Qwen 2/2.5, Llama 3.x, Gemma 2, Phi-3.5, Mistral and their like). The parser
// rejects any other name at load.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "model/jinja/value.h"

namespace ladle::jinja {

bool is_known_filter(std::string_view name);
bool is_known_test(std::string_view name);
bool is_known_method(std::string_view name);

// `value | name(args)`; throws TemplateError on a wrong type or argument.
Value apply_filter(std::string_view name, const Value& value, const CallArgs& args);
// `value is name(args)`.
bool apply_test(std::string_view name, const Value& value, const CallArgs& args);
// `object.name(args)` for str, dict and list methods.
Value call_method(const Value& object, std::string_view name, const CallArgs& args);

// Python's json.dumps as transformers' tojson filter calls it: ensure_ascii=False,
// sort_keys=False, separators (", ", ": ") or (",", ": ") with an indent.
std::string to_json(const Value& value, int indent = -1);

}  // namespace ladle::jinja
