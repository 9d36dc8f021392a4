// Python's operators on jinja Values: arithmetic (+ - * / // % **), comparison, `in`, and the
// conversion of a value to a sequence of items (what `for` and list filters iterate).
// A wrong type is a TemplateError worded as Python's TypeError ("unsupported operand type(s) for
// +: 'str' and 'int'"); an Undefined operand is the error its hint names.
#pragma once

#include <string_view>

#include "model/jinja/value.h"

namespace ladle::jinja {

Value binary_op(std::string_view op, const Value& a, const Value& b);
bool compare_op(std::string_view op, const Value& a, const Value& b);
bool contains(const Value& container, const Value& item);  // `item in container`
// The items of an iterable: a list's elements, a dict's keys, a str's characters, nothing for
// Undefined. Throws for anything else.
ValueList iterate(const Value& v);
// Throws the error an Undefined stands for (jinja2's UndefinedError).
[[noreturn]] void fail_undefined(const Value& v);

}  // namespace ladle::jinja
