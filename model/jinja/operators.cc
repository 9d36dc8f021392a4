#include "model/jinja/operators.h"

#include <cmath>
#include <cstdint>

#include "model/jinja/error.h"
#include "model/jinja/unicode.h"

namespace ladle::jinja {
namespace {

[[noreturn]] void type_error(std::string_view op, const Value& a, const Value& b) {
  throw TemplateError("unsupported operand type(s) for " + std::string(op) + ": '" + a.type_name() + "' and '" +
                      b.type_name() + "'");
}

// x op y on 64-bit ints, an error where Python's int would outgrow them.
std::int64_t checked(char op, std::int64_t x, std::int64_t y) {
  std::int64_t r = 0;
  bool overflow = op == '+' ? __builtin_add_overflow(x, y, &r)
                  : op == '-' ? __builtin_sub_overflow(x, y, &r)
                              : __builtin_mul_overflow(x, y, &r);
  if (overflow) throw TemplateError("integer overflow (Python's int would grow; 64-bit here)");
  return r;
}

Value repeat(const Value& seq, std::int64_t n) {
  std::size_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().size() * 16;
  if (n > 0 && unit > 0 && static_cast<std::size_t>(n) > kMaxValueBytes / unit)
    throw TemplateError("the result of '*' is too large");
  if (seq.is_string()) {
    std::string out;
    for (std::int64_t i = 0; i < n; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  ValueList out;
  for (std::int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
  return Value(std::move(out));
}

bool is_int(const Value& v) { return v.kind() == Value::Kind::kInt || v.kind() == Value::Kind::kBool; }

}  // namespace

void fail_undefined(const Value& v) {
  throw TemplateError(v.undefined_hint().empty() ? "use of an undefined value" : v.undefined_hint());
}

Value binary_op(std::string_view op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.str() + b.str();
    if (s.size() > kMaxValueBytes) throw TemplateError("the result of '~' is too large");
    return Value(std::move(s));
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    bool ints = is_int(a) && is_int(b);
    double x = a.as_double();
    double y = b.as_double();
    if (op == "+") return ints ? Value(checked('+', a.as_int(), b.as_int())) : Value(x + y);
    if (op == "-") return ints ? Value(checked('-', a.as_int(), b.as_int())) : Value(x - y);
    if (op == "*") return ints ? Value(checked('*', a.as_int(), b.as_int())) : Value(x * y);
    if (op == "**") {
      if (ints && b.as_int() >= 0) {
        const std::int64_t base = a.as_int();
        std::int64_t r = 1;
        // |base| <= 1 never grows: stop early instead of looping up to a huge exponent.
        if (base == 0 || base == 1) return Value(b.as_int() == 0 ? std::int64_t{1} : base);
        if (base == -1) return Value(b.as_int() % 2 == 0 ? std::int64_t{1} : std::int64_t{-1});
        for (std::int64_t i = 0; i < b.as_int(); ++i) r = checked('*', r, base);
        return Value(r);
      }
      return Value(std::pow(x, y));
    }
    if (y == 0) throw TemplateError(ints ? "integer division or modulo by zero" : "float division by zero");
    if (op == "/") return Value(x / y);
    if (ints && b.as_int() == -1 && a.as_int() == INT64_MIN) throw TemplateError("integer overflow");
    if (op == "//") {
      if (!ints) return Value(std::floor(x / y));
      std::int64_t q = a.as_int() / b.as_int();
      if ((a.as_int() % b.as_int() != 0) && ((a.as_int() < 0) != (b.as_int() < 0))) --q;
      return Value(q);
    }
    if (op == "%") {
      if (!ints) {
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Value(r);
      }
      std::int64_t r = a.as_int() % b.as_int();
      if (r != 0 && ((r < 0) != (b.as_int() < 0))) r += b.as_int();
      return Value(r);
    }
  }
  if (op == "+" && a.is_string() && b.is_string()) {
    if (a.as_string().size() + b.as_string().size() > kMaxValueBytes) throw TemplateError("the result of '+' is too large");
    return Value(a.as_string() + b.as_string());
  }
  if (op == "+" && a.is_list() && b.is_list()) {
    if (a.as_list().size() + b.as_list().size() > kMaxValueBytes / 16) throw TemplateError("the result of '+' is too large");
    ValueList out = a.as_list();
    out.insert(out.end(), b.as_list().begin(), b.as_list().end());
    return Value(std::move(out));
  }
  if (op == "*" && (a.is_string() || a.is_list()) && is_int(b)) return repeat(a, b.as_int());
  if (op == "*" && (b.is_string() || b.is_list()) && is_int(a)) return repeat(b, a.as_int());
  if (op == "%" && a.is_string()) throw TemplateError("unsupported construct: printf-style '%' formatting of a str");
  type_error(op, a, b);
}

bool compare_op(std::string_view op, const Value& a, const Value& b) {
  if (op == "==") return a == b;
  if (op == "!=") return !(a == b);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  int c;
  if (a.is_number() && b.is_number()) {
    double x = a.as_double();
    double y = b.as_double();
    c = x < y ? -1 : x > y ? 1 : 0;
  } else if (a.is_string() && b.is_string()) {
    c = a.as_string().compare(b.as_string());  // UTF-8 byte order is code point order
  } else {
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    throw TemplateError("'" + std::string(op) + "' not supported between instances of '" + a.type_name() +
                        "' and '" + b.type_name() + "'");
  }
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kString:
      if (!item.is_string())
        throw TemplateError("'in <string>' requires string as left operand, not " + item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::kList:
      for (const auto& v : container.as_list())
        if (v == item) return true;
      return false;
    case Value::Kind::kDict:
    case Value::Kind::kNamespace:
      return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    case Value::Kind::kUndefined: fail_undefined(container);
    default: throw TemplateError("argument of type '" + container.type_name() + "' is not iterable");
  }
}

ValueList iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kList: return v.as_list();
    case Value::Kind::kDict: {
      ValueList keys;
      for (const auto& [k, _] : v.as_dict().entries()) keys.emplace_back(k);
      return keys;
    }
    case Value::Kind::kString: {
      ValueList chars;
      auto offsets = code_point_offsets(v.as_string());
      for (std::size_t i = 0; i + 1 < offsets.size(); ++i)
        chars.emplace_back(v.as_string().substr(offsets[i], offsets[i + 1] - offsets[i]));
      return chars;
    }
    default: throw TemplateError("'" + v.type_name() + "' object is not iterable");
  }
}

}  // namespace ladle::jinja
