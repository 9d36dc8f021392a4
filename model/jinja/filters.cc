// Filters and tests (builtins.h), with jinja2's semantics for the values chat templates pass.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "model/jinja/builtins.h"
#include "model/jinja/error.h"
#include "model/jinja/operators.h"
#include "model/jinja/unicode.h"

namespace ladle::jinja {
namespace {

const std::set<std::string_view> kFilters = {
    "abs",   "capitalize", "count",  "d",     "default", "first",   "float",     "int",       "items",
    "join",  "last",       "length", "list",  "lower",   "map",     "reject",    "rejectattr", "replace",
    "reverse", "safe",     "select", "selectattr", "string", "title", "tojson",   "trim",      "unique",
    "upper"};
const std::set<std::string_view> kTests = {
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "even",    "false",  "float", "ge",
    "gt",      "in",       "integer", "iterable",    "le", "lower",   "lt",      "mapping", "ne",   "none",
    "number",  "odd",      "sameas",  "sequence",    "string", "true", "undefined", "upper", "==", "!=",
    "<",       "<=",       ">",       ">="};

// Argument i (positional) or `name` (keyword); nullptr when absent.
const Value* arg(const CallArgs& a, std::size_t i, std::string_view name) {
  if (i < a.positional.size()) return &a.positional[i];
  return a.find_keyword(name);
}

// Looks up a dotted attribute path ("function.name") as jinja2's attribute filters do.
Value attribute_of(const Value& v, const std::string& path) {
  Value cur = v;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur.is_mapping()) return Value::undefined("no attribute '" + key + "'");
    const Value* next = cur.as_dict().find(key);
    if (!next) return Value::undefined("'dict object' has no attribute '" + key + "'");
    cur = *next;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

// selectattr/rejectattr/select/reject: keep the items whose test (args from `first`) is `keep`.
Value filter_items(const Value& v, const CallArgs& a, bool by_attr, bool keep) {
  std::size_t first = by_attr ? 1 : 0;
  if (by_attr && (a.positional.empty() || !a.positional[0].is_string()))
    throw TemplateError("selectattr/rejectattr need an attribute name");
  ValueList out;
  for (const Value& item : iterate(v)) {
    Value subject = by_attr ? attribute_of(item, a.positional[0].as_string()) : item;
    bool pass;
    if (a.positional.size() <= first) {
      pass = subject.truthy();
    } else {
      CallArgs test_args;
      test_args.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(first) + 1, a.positional.end());
      if (!a.positional[first].is_string()) throw TemplateError("the test of select/selectattr must be a name");
      const std::string& test = a.positional[first].as_string();
      if (!is_known_test(test)) throw TemplateError("unsupported test '" + test + "'");
      pass = apply_test(test, subject, test_args);
    }
    if (pass == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

std::string strip_chars(const std::string& s, const std::string& chars, bool left, bool right) {
  std::size_t b = 0;
  std::size_t e = s.size();
  if (left) b = s.find_first_not_of(chars);
  if (b == std::string::npos) return "";
  if (right) e = s.find_last_not_of(chars) + 1;
  return s.substr(b, e - b);
}

}  // namespace

bool is_known_filter(std::string_view name) { return kFilters.count(name) != 0; }
bool is_known_test(std::string_view name) { return kTests.count(name) != 0; }

Value apply_filter(std::string_view name, const Value& v, const CallArgs& a) {
  if (name == "default" || name == "d") {
    const Value* boolean = arg(a, 1, "boolean");
    bool use_default = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
    const Value* dflt = arg(a, 0, "default_value");
    return use_default ? (dflt ? *dflt : Value("")) : v;
  }
  if (name == "trim") {
    const Value* chars = arg(a, 0, "chars");
    if (chars && !chars->is_none()) return Value(strip_chars(v.str(), chars->str(), true, true));
    return Value(std::string(python_strip(v.str(), true, true)));
  }
  if (name == "tojson") {
    const Value* indent = arg(a, 0, "indent");
    for (const auto& [k, _] : a.keyword)
      if (k != "indent") throw TemplateError("tojson(" + k + "=...) is not supported");
    return Value(to_json(v, indent && !indent->is_none() ? static_cast<int>(indent->as_int()) : -1));
  }
  if (name == "length" || name == "count") {
    switch (v.kind()) {
      case Value::Kind::kUndefined: return Value(0);
      case Value::Kind::kString: return Value(static_cast<std::int64_t>(count_code_points(v.as_string())));
      case Value::Kind::kList: return Value(static_cast<std::int64_t>(v.as_list().size()));
      case Value::Kind::kDict:
      case Value::Kind::kNamespace: return Value(static_cast<std::int64_t>(v.as_dict().size()));
      default: throw TemplateError("object of type '" + v.type_name() + "' has no len()");
    }
  }
  if (name == "upper") return Value(to_upper(v.str()));
  if (name == "lower") return Value(to_lower(v.str()));
  if (name == "title") return Value(to_title(v.str()));
  if (name == "capitalize") return Value(capitalize(v.str()));
  if (name == "string") return Value(v.str());
  if (name == "safe") return v;
  if (name == "list") return Value(iterate(v));
  if (name == "first" || name == "last") {
    ValueList items = iterate(v);
    if (items.empty()) return Value::undefined("no " + std::string(name) + " item, sequence was empty");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      ValueList chars = iterate(v);
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->as_string();
      return Value(std::move(out));
    }
    ValueList items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "join") {
    const Value* sep = arg(a, 0, "d");
    const Value* attr = arg(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
      if (!first && sep) out += sep->str();
      first = false;
      out += (attr ? attribute_of(item, attr->str()) : item).str();
    }
    return Value(std::move(out));
  }
  if (name == "map") {
    ValueList out;
    const Value* attr = a.find_keyword("attribute");
    for (const Value& item : iterate(v)) {
      if (attr) {
        Value got = attribute_of(item, attr->str());
        const Value* dflt = a.find_keyword("default");
        out.push_back(got.is_undefined() && dflt ? *dflt : got);
      } else if (!a.positional.empty() && a.positional[0].is_string()) {
        const std::string& filter = a.positional[0].as_string();
        if (!is_known_filter(filter) || filter == "map") throw TemplateError("unsupported filter '" + filter + "'");
        CallArgs rest;
        rest.positional.assign(a.positional.begin() + 1, a.positional.end());
        out.push_back(apply_filter(filter, item, rest));
      } else {
        throw TemplateError("map needs attribute= or a filter name");
      }
    }
    return Value(std::move(out));
  }
  if (name == "selectattr") return filter_items(v, a, true, true);
  if (name == "rejectattr") return filter_items(v, a, true, false);
  if (name == "select") return filter_items(v, a, false, true);
  if (name == "reject") return filter_items(v, a, false, false);
  if (name == "items") {
    if (v.is_undefined()) return Value(ValueList{});
    if (!v.is_mapping()) throw TemplateError("items filter expects a mapping, got " + v.type_name());
    ValueList out;
    for (const auto& [k, val] : v.as_dict().entries()) out.emplace_back(ValueList{Value(k), val});
    return Value(std::move(out));
  }
  if (name == "unique") {
    ValueList out;
    for (const Value& item : iterate(v))
      if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
    return Value(std::move(out));
  }
  if (name == "replace") {
    std::string s = v.str();
    const Value* from = arg(a, 0, "old");
    const Value* to = arg(a, 1, "new");
    if (!from || !to) throw TemplateError("replace needs two arguments");
    CallArgs m;
    m.positional = {*from, *to};
    if (const Value* n = arg(a, 2, "count")) m.positional.push_back(*n);
    return call_method(Value(s), "replace", m);
  }
  if (name == "int") {
    if (v.kind() == Value::Kind::kInt || v.kind() == Value::Kind::kBool) return Value(v.as_int());
    if (v.is_number() && std::fabs(v.as_double()) < 9.2e18) return Value(static_cast<std::int64_t>(v.as_double()));
    if (v.is_string()) {
      char* end = nullptr;
      std::string s(python_strip(v.as_string(), true, true));
      long long n = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && *end == '\0') return Value(static_cast<std::int64_t>(n));
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && *end == '\0' && std::fabs(d) < 9.2e18) return Value(static_cast<std::int64_t>(d));
    }
    const Value* dflt = arg(a, 0, "default");
    return dflt ? *dflt : Value(0);
  }
  if (name == "float") {
    if (v.is_number()) return Value(v.as_double());
    if (v.is_string()) {
      char* end = nullptr;
      std::string s(python_strip(v.as_string(), true, true));
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && *end == '\0') return Value(d);
    }
    const Value* dflt = arg(a, 0, "default");
    return dflt ? *dflt : Value(0.0);
  }
  if (name == "abs") {
    if (v.kind() == Value::Kind::kFloat) return Value(std::fabs(v.as_double()));
    if (v.is_number() && v.as_int() == INT64_MIN) throw TemplateError("integer overflow");
    if (v.is_number()) return Value(static_cast<std::int64_t>(std::llabs(v.as_int())));
    throw TemplateError("bad operand type for abs(): '" + v.type_name() + "'");
  }
  throw TemplateError("unsupported filter '" + std::string(name) + "'");
}

bool apply_test(std::string_view name, const Value& v, const CallArgs& a) {
  using K = Value::Kind;
  auto need = [&]() -> const Value& {
    if (a.positional.empty()) throw TemplateError("test '" + std::string(name) + "' needs an argument");
    return a.positional[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.kind() == K::kInt;
  if (name == "float") return v.kind() == K::kFloat;
  if (name == "boolean") return v.kind() == K::kBool;
  if (name == "true") return v.kind() == K::kBool && v.as_bool();
  if (name == "false") return v.kind() == K::kBool && !v.as_bool();
  if (name == "mapping") return v.kind() == K::kDict;
  if (name == "iterable") return v.is_string() || v.is_list() || v.kind() == K::kDict || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_list() || v.kind() == K::kDict;
  if (name == "callable") return v.kind() == K::kCallable;
  if (name == "lower") return v.is_string() && to_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && to_upper(v.as_string()) == v.as_string();
  if (name == "even" || name == "odd") {
    if (!v.is_number()) throw TemplateError("test '" + std::string(name) + "' needs a number");
    std::int64_t r = v.as_int() % 2;
    return name == "even" ? r == 0 : r != 0;
  }
  if (name == "divisibleby") {
    std::int64_t d = need().as_int();
    if (d == 0) throw TemplateError("integer division or modulo by zero");
    return d == -1 || v.as_int() % d == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return compare_op("==", v, need());
  if (name == "ne" || name == "!=") return compare_op("!=", v, need());
  if (name == "lt" || name == "<") return compare_op("<", v, need());
  if (name == "le" || name == "<=") return compare_op("<=", v, need());
  if (name == "gt" || name == ">") return compare_op(">", v, need());
  if (name == "ge" || name == ">=") return compare_op(">=", v, need());
  if (name == "in") return contains(need(), v);
  if (name == "sameas") {
    const Value& o = need();
    if (v.kind() != o.kind()) return false;
    if (v.kind() == K::kNone || v.kind() == K::kUndefined) return true;
    if (v.kind() == K::kBool) return v.as_bool() == o.as_bool();
    return v == o && (v.kind() == K::kInt || v.kind() == K::kString);
  }
  throw TemplateError("unsupported test '" + std::string(name) + "'");
}

}  // namespace ladle::jinja
