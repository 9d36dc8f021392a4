// jinja::Value: the Python-like value a template computes with (Jinja2 runs on Python objects).
//
// Undefined, None, bool, int, float, str (UTF-8; lengths, indexes and slices count code points, as
// Python's str does), list, dict (insertion-ordered, string keys), namespace (the one mutable
// dict: `set ns.x = ...`) and callable (macros and global functions). Lists and dicts are shared
// and immutable once built, as in transformers' ImmutableSandboxedEnvironment.
//
// str() and repr() print as Python does ("None", "True", "1.5", "['a', 1]"), so a template that
// prints a non-string renders what jinja2 renders.
//
// Thread-safety: a Value is immutable after construction except a namespace's entries, which only
// the render that created it touches.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace ladle::jinja {

class Value;
class ValueDict;
struct CallArgs;
struct Callable;
using ValueList = std::vector<Value>;

struct Undefined {
  std::string hint;  // why, for the error if it is used: "'x' is undefined"
};

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kList, kDict, kNamespace, kCallable };

  Value() : v_(Undefined{}) {}
  Value(std::nullptr_t) : v_(nullptr) {}                      // NOLINT: None
  template <class B, class = std::enable_if_t<std::is_same_v<B, bool>>>  // no pointer → bool
  Value(B b) : v_(b) {}                                        // NOLINT
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}          // NOLINT
  Value(std::int64_t i) : v_(i) {}                             // NOLINT
  Value(double d) : v_(d) {}                                   // NOLINT
  Value(std::string s) : v_(std::move(s)) {}                   // NOLINT
  Value(const char* s) : v_(std::string(s)) {}                 // NOLINT
  Value(ValueList list) : v_(std::make_shared<const ValueList>(std::move(list))) {}  // NOLINT
  Value(ValueDict dict);  // NOLINT
  Value(Callable c);      // NOLINT

  static Value undefined(std::string hint) { Value v; v.v_ = Undefined{std::move(hint)}; return v; }
  static Value make_namespace(ValueDict dict);

  Kind kind() const;
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_number() const { return kind() == Kind::kInt || kind() == Kind::kFloat || kind() == Kind::kBool; }
  bool is_mapping() const { return kind() == Kind::kDict || kind() == Kind::kNamespace; }
  bool is_list() const { return kind() == Kind::kList; }

  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_int() const;  // bool or int; else throws TemplateError
  double as_double() const;     // bool, int or float; else throws TemplateError
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const ValueList& as_list() const { return *std::get<std::shared_ptr<const ValueList>>(v_); }
  const ValueDict& as_dict() const { return *std::get<DictPtr>(v_).dict; }
  ValueDict& namespace_dict() const { return *std::get<DictPtr>(v_).dict; }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(v_); }
  const std::string& undefined_hint() const { return std::get<Undefined>(v_).hint; }

  bool truthy() const;            // Python's bool(x); Undefined is false
  std::string str() const;        // Python's str(x); Undefined is ""
  std::string repr() const;       // Python's repr(x)
  std::string type_name() const;  // Python's type name: "str", "int", "dict", ...

  // Python's ==: deep for lists and dicts, 1 == 1.0 == True.
  friend bool operator==(const Value& a, const Value& b);

 private:
  struct DictPtr {
    std::shared_ptr<ValueDict> dict;
    bool is_namespace;
  };
  std::variant<Undefined, std::nullptr_t, bool, std::int64_t, double, std::string,
               std::shared_ptr<const ValueList>, DictPtr, std::shared_ptr<const Callable>> v_;
};

// Arguments of a call: positional first, then keyword (name, value) in call order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  const Value* find_keyword(std::string_view name) const;
};

struct Callable {
  std::string name;
  std::function<Value(const CallArgs&)> fn;
};

class ValueDict {
 public:
  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);  // replaces in place, or appends
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  void clear() { entries_.clear(); }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
};

inline Value::Value(ValueDict dict) : v_(DictPtr{std::make_shared<ValueDict>(std::move(dict)), false}) {}
inline Value::Value(Callable c) : v_(std::make_shared<const Callable>(std::move(c))) {}

// How large a string or list a template may build (a render's output included): a template from a
// model file must not exhaust memory (`{% set ns.s = ns.s + ns.s %}` in a loop).
inline constexpr std::size_t kMaxValueBytes = std::size_t{64} << 20;

// Python's repr() of a float: the shortest digits that round-trip, "1.0", "1e+16", "1.5e-07".
std::string python_float_repr(double d);
// Python's repr() of a str: single quotes unless the text holds ' and no ".
std::string python_string_repr(std::string_view s);

}  // namespace ladle::jinja
