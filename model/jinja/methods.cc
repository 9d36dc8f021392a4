// Methods of str and dict (builtins.h): the non-mutating ones chat templates call. Lists have none
// here: transformers' ImmutableSandboxedEnvironment forbids append() and the like.
#include <set>

#include "model/jinja/builtins.h"
#include "model/jinja/error.h"
#include "model/jinja/operators.h"
#include "model/jinja/unicode.h"

namespace ladle::jinja {
namespace {

const std::set<std::string_view> kStrMethods = {"capitalize", "count",  "endswith", "find",  "join",
                                                "lower",      "lstrip", "replace",  "rstrip", "split",
                                                "startswith", "strip",  "title",    "upper"};
const std::set<std::string_view> kDictMethods = {"get", "items", "keys", "values"};

const Value* arg(const CallArgs& a, std::size_t i, std::string_view name) {
  if (i < a.positional.size()) return &a.positional[i];
  return a.find_keyword(name);
}

std::string string_arg(const CallArgs& a, std::size_t i, std::string_view method) {
  const Value* v = arg(a, i, "");
  if (!v || !v->is_string())
    throw TemplateError("str." + std::string(method) + "() needs a str argument");
  return v->as_string();
}

Value strip(const std::string& s, const Value* chars, bool left, bool right) {
  if (!chars || chars->is_none()) return Value(std::string(python_strip(s, left, right)));
  const std::string set = chars->str();
  std::size_t b = 0;
  std::size_t e = s.size();
  // Byte-wise is code-point-wise when both are ASCII; the usual case ("\n", " ", "</think>").
  if (left) b = s.find_first_not_of(set);
  if (b == std::string::npos) return Value("");
  if (right) e = s.find_last_not_of(set) + 1;
  return Value(s.substr(b, e - b));
}

Value split(const std::string& s, const Value* sep, const Value* maxsplit_v) {
  std::int64_t maxsplit = maxsplit_v ? maxsplit_v->as_int() : -1;
  ValueList out;
  if (!sep || sep->is_none()) {  // runs of whitespace, no empty strings
    std::string_view rest = python_strip(s, true, false);
    while (!rest.empty()) {
      if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) {
        out.emplace_back(std::string(python_strip(rest, false, true)));
        break;
      }
      std::size_t i = 0;
      auto offsets = code_point_offsets(rest);
      std::size_t k = 0;
      for (; k + 1 < offsets.size(); ++k) {
        std::string_view cp = rest.substr(offsets[k], offsets[k + 1] - offsets[k]);
        if (python_strip(cp, true, true).empty()) break;
      }
      i = offsets[k];
      out.emplace_back(std::string(rest.substr(0, i)));
      rest = python_strip(rest.substr(i), true, false);
    }
    return Value(std::move(out));
  }
  std::string d = sep->str();
  if (d.empty()) throw TemplateError("empty separator");
  std::size_t start = 0;
  for (;;) {
    std::size_t at = s.find(d, start);
    if (at == std::string::npos || (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit)) {
      out.emplace_back(s.substr(start));
      break;
    }
    out.emplace_back(s.substr(start, at - start));
    start = at + d.size();
  }
  return Value(std::move(out));
}

bool affix(const std::string& s, const Value& what, bool prefix) {
  auto test = [&](const std::string& p) {
    if (p.size() > s.size()) return false;
    return prefix ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0;
  };
  if (what.is_list()) {
    for (const Value& p : what.as_list())
      if (test(p.str())) return true;
    return false;
  }
  if (!what.is_string()) throw TemplateError("startswith/endswith need a str or a tuple of str");
  return test(what.as_string());
}

Value str_method(const std::string& s, std::string_view name, const CallArgs& a) {
  if (name == "strip") return strip(s, arg(a, 0, "chars"), true, true);
  if (name == "lstrip") return strip(s, arg(a, 0, "chars"), true, false);
  if (name == "rstrip") return strip(s, arg(a, 0, "chars"), false, true);
  if (name == "split") return split(s, arg(a, 0, "sep"), arg(a, 1, "maxsplit"));
  if (name == "upper") return Value(to_upper(s));
  if (name == "lower") return Value(to_lower(s));
  if (name == "title") return Value(to_title(s));
  if (name == "capitalize") return Value(capitalize(s));
  if (name == "startswith" || name == "endswith") {
    const Value* what = arg(a, 0, "prefix");
    if (!what) throw TemplateError("str." + std::string(name) + "() needs an argument");
    return Value(affix(s, *what, name == "startswith"));
  }
  if (name == "replace") {
    std::string from = string_arg(a, 0, name);
    std::string to = string_arg(a, 1, name);
    const Value* count_v = arg(a, 2, "count");
    std::int64_t count = count_v ? count_v->as_int() : -1;
    std::string out;
    std::size_t start = 0;
    std::int64_t done = 0;
    if (from.empty()) throw TemplateError("str.replace() with an empty old string is not supported");
    for (;;) {
      std::size_t at = s.find(from, start);
      if (at == std::string::npos || (count >= 0 && done == count)) break;
      out.append(s, start, at - start);
      out += to;
      start = at + from.size();
      ++done;
    }
    out.append(s, start, std::string::npos);
    return Value(std::move(out));
  }
  if (name == "find") {
    std::size_t at = s.find(string_arg(a, 0, name));
    return Value(at == std::string::npos ? std::int64_t{-1}
                                         : static_cast<std::int64_t>(count_code_points(s.substr(0, at))));
  }
  if (name == "count") {
    std::string sub = string_arg(a, 0, name);
    std::int64_t n = 0;
    if (sub.empty()) return Value(static_cast<std::int64_t>(count_code_points(s) + 1));
    for (std::size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    if (a.positional.empty()) throw TemplateError("str.join() needs an iterable");
    std::string out;
    bool first = true;
    for (const Value& item : iterate(a.positional[0])) {
      if (!item.is_string()) throw TemplateError("sequence item: expected str instance, " + item.type_name() + " found");
      if (!first) out += s;
      first = false;
      out += item.as_string();
    }
    return Value(std::move(out));
  }
  throw TemplateError("'str' object has no method '" + std::string(name) + "'");
}

Value dict_method(const ValueDict& d, std::string_view name, const CallArgs& a) {
  ValueList out;
  if (name == "items") {
    for (const auto& [k, v] : d.entries()) out.emplace_back(ValueList{Value(k), v});
  } else if (name == "keys") {
    for (const auto& [k, _] : d.entries()) out.emplace_back(k);
  } else if (name == "values") {
    for (const auto& [_, v] : d.entries()) out.push_back(v);
  } else if (name == "get") {
    const Value* key = arg(a, 0, "key");
    if (!key) throw TemplateError("dict.get() needs a key");
    const Value* found = key->is_string() ? d.find(key->as_string()) : nullptr;
    if (found) return *found;
    const Value* dflt = arg(a, 1, "default");
    return dflt ? *dflt : Value(nullptr);
  } else {
    throw TemplateError("'dict' object has no method '" + std::string(name) + "'");
  }
  return Value(std::move(out));
}

}  // namespace

// loop.cycle() is a call of a dict member, not a method, but is written as one.
bool is_known_method(std::string_view name) {
  return kStrMethods.count(name) || kDictMethods.count(name) || name == "cycle";
}

Value call_method(const Value& object, std::string_view name, const CallArgs& args) {
  if (object.is_undefined()) fail_undefined(object);
  if (object.is_string()) return str_method(object.as_string(), name, args);
  if (object.kind() == Value::Kind::kDict) return dict_method(object.as_dict(), name, args);
  throw TemplateError("'" + object.type_name() + "' object has no method '" + std::string(name) + "'");
}

}  // namespace ladle::jinja
