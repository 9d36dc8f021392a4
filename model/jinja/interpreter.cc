#include "model/jinja/interpreter.h"

#include "model/jinja/builtins.h"
#include "model/jinja/error.h"
#include "model/jinja/operators.h"
#include "model/jinja/unicode.h"

namespace ladle::jinja {
namespace {

Value builtin_range(const CallArgs& a) {
  std::int64_t start = 0;
  std::int64_t stop = 0;
  std::int64_t step = 1;
  if (a.positional.size() == 1) {
    stop = a.positional[0].as_int();
  } else if (a.positional.size() >= 2) {
    start = a.positional[0].as_int();
    stop = a.positional[1].as_int();
    if (a.positional.size() >= 3) step = a.positional[2].as_int();
  } else {
    throw TemplateError("range() needs 1 to 3 arguments");
  }
  if (step == 0) throw TemplateError("range() arg 3 must not be zero");
  ValueList out;
  for (std::int64_t i = start; step > 0 ? i < stop : i > stop;) {
    if (out.size() >= 100000) throw TemplateError("range() of more than 100000 items");
    out.emplace_back(i);
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  return Value(std::move(out));
}

Value builtin_namespace(const CallArgs& a) {
  ValueDict d;
  for (const auto& v : a.positional) {
    if (!v.is_mapping()) throw TemplateError("namespace() takes keyword arguments or a dict");
    for (const auto& [k, x] : v.as_dict().entries()) d.set(k, x);
  }
  for (const auto& [k, v] : a.keyword) d.set(k, v);
  return Value::make_namespace(std::move(d));
}

Value builtin_dict(const CallArgs& a) {
  ValueDict d;
  for (const auto& [k, v] : a.keyword) d.set(k, v);
  return Value(std::move(d));
}

// Python's slice of a sequence of n items: the indexes it selects.
std::vector<std::int64_t> slice_indexes(std::int64_t n, const Value& start_v, const Value& stop_v,
                                        const Value& step_v) {
  std::int64_t step = step_v.is_none() || step_v.is_undefined() ? 1 : step_v.as_int();
  if (step == 0) throw TemplateError("slice step cannot be zero");
  auto clamp = [&](const Value& v, std::int64_t dflt) {
    if (v.is_none() || v.is_undefined()) return dflt;
    std::int64_t i = v.as_int();
    if (i < 0) i += n;
    if (step > 0) return std::max<std::int64_t>(0, std::min(i, n));
    return std::max<std::int64_t>(-1, std::min(i, n - 1));
  };
  std::int64_t start = clamp(start_v, step > 0 ? 0 : n - 1);
  std::int64_t stop = clamp(stop_v, step > 0 ? n : -1);
  std::vector<std::int64_t> out;
  for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(i);
  return out;
}

}  // namespace

const Value* Interpreter::Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::Interpreter(const ValueDict& variables) {
  globals_.vars["range"] = Value(Callable{"range", builtin_range});
  globals_.vars["namespace"] = Value(Callable{"namespace", [this](const CallArgs& a) {
    namespaces_.push_back(builtin_namespace(a));
    return namespaces_.back();
  }});
  globals_.vars["dict"] = Value(Callable{"dict", builtin_dict});
  for (const auto& [k, v] : variables.entries()) globals_.vars[k] = v;
  root_.parent = &globals_;
}

Interpreter::~Interpreter() {
  for (const Value& ns : namespaces_) ns.namespace_dict().clear();
}

std::string Interpreter::render(const StmtList& body) {
  std::string out;
  exec(body, root_, out);
  return out;
}

Interpreter::Flow Interpreter::exec(const StmtList& body, Scope& scope, std::string& out) {
  for (const auto& st : body) {
    Flow f;
    try {
      f = exec_one(*st, scope, out);
    } catch (const RaisedError& e) {
      if (e.line() != 0) throw;
      throw RaisedError(e.what(), st->line);
    } catch (const TemplateError& e) {
      if (e.line() != 0) throw;
      throw TemplateError(e.what(), st->line);
    }
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_one(const Stmt& st, Scope& scope, std::string& out) {
  if (++steps_ > kMaxSteps) throw TemplateError("the template ran more than " + std::to_string(kMaxSteps) + " steps");
  if (out.size() > kMaxValueBytes) throw TemplateError("the template's output passed " + std::to_string(kMaxValueBytes >> 20) + " MiB");
  switch (st.kind) {
    case Stmt::Kind::kText: out += st.text; return Flow::kNormal;
    case Stmt::Kind::kOutput: out += eval(*st.expr, scope).str(); return Flow::kNormal;
    case Stmt::Kind::kIf:
      for (std::size_t i = 0; i < st.conditions.size(); ++i)
        if (eval(*st.conditions[i], scope).truthy()) return exec(st.bodies[i], scope, out);
      if (st.bodies.size() > st.conditions.size()) return exec(st.bodies.back(), scope, out);
      return Flow::kNormal;
    case Stmt::Kind::kFor: return exec_for(st, scope, out);
    case Stmt::Kind::kSet: exec_set(st, scope); return Flow::kNormal;
    case Stmt::Kind::kMacro: define_macro(st, scope); return Flow::kNormal;
    case Stmt::Kind::kBreak: return Flow::kBreak;
    case Stmt::Kind::kContinue: return Flow::kContinue;
    case Stmt::Kind::kGeneration: return exec(st.bodies[0], scope, out);
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec_for(const Stmt& st, Scope& scope, std::string& out) {
  auto bind = [&](Scope& s, const Value& item) {
    if (st.targets.size() == 1) {
      s.vars[st.targets[0]] = item;
      return;
    }
    ValueList parts = iterate(item);
    if (parts.size() != st.targets.size())
      throw TemplateError("cannot unpack " + std::to_string(parts.size()) + " values into " +
                          std::to_string(st.targets.size()) + " loop variables", st.line);
    for (std::size_t i = 0; i < parts.size(); ++i) s.vars[st.targets[i]] = parts[i];
  };
  Value iterable = eval(*st.expr, scope);
  ValueList items = iterate(iterable);
  if (st.filter) {
    ValueList kept;
    for (const Value& item : items) {
      Scope s{&scope, {}};
      bind(s, item);
      if (eval(*st.filter, s).truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) return st.bodies.size() > 1 ? exec(st.bodies[1], scope, out) : Flow::kNormal;
  const auto n = static_cast<std::int64_t>(items.size());
  for (std::int64_t i = 0; i < n; ++i) {
    if (++steps_ > kMaxSteps) throw TemplateError("the template ran more than " + std::to_string(kMaxSteps) + " steps");
    Scope s{&scope, {}};
    bind(s, items[static_cast<std::size_t>(i)]);
    ValueDict loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(n - i));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth", Value(1));
    loop.set("depth0", Value(0));
    loop.set("previtem", i > 0 ? items[static_cast<std::size_t>(i - 1)] : Value::undefined("there is no previous item"));
    loop.set("nextitem", i + 1 < n ? items[static_cast<std::size_t>(i + 1)] : Value::undefined("there is no next item"));
    loop.set("cycle", Value(Callable{"cycle", [i](const CallArgs& a) {
                                       if (a.positional.empty()) throw TemplateError("no items for cycling given");
                                       return a.positional[static_cast<std::size_t>(i) % a.positional.size()];
                                     }}));
    s.vars["loop"] = Value(std::move(loop));
    if (exec(st.bodies[0], s, out) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Interpreter::exec_set(const Stmt& st, Scope& scope) {
  Value value;
  if (st.expr) {
    value = eval(*st.expr, scope);
  } else {
    std::string text;
    Scope inner{&scope, {}};
    exec(st.bodies[0], inner, text);
    value = Value(std::move(text));
  }
  if (!st.attr.empty()) {
    const Value* target = scope.find(st.targets[0]);
    if (!target || target->kind() != Value::Kind::kNamespace)
      throw TemplateError("cannot assign attribute on non-namespace object '" + st.targets[0] + "'", st.line);
    target->namespace_dict().set(st.attr, std::move(value));
    return;
  }
  if (st.targets.size() == 1) {
    scope.vars[st.targets[0]] = std::move(value);
    return;
  }
  ValueList parts = iterate(value);
  if (parts.size() != st.targets.size()) throw TemplateError("cannot unpack values in a set", st.line);
  for (std::size_t i = 0; i < parts.size(); ++i) scope.vars[st.targets[i]] = parts[i];
}

void Interpreter::define_macro(const Stmt& st, Scope& scope) {
  // A macro sees the template's top-level variables and its arguments (Jinja2 also lets it see
  // the variables of an enclosing loop; chat templates define macros at the top).
  Scope* root = &root_;
  const Stmt* def = &st;
  scope.vars[st.text] = Value(Callable{st.text, [this, root, def](const CallArgs& a) {
    if (macro_depth_ >= kMaxMacroDepth)
      throw TemplateError("macro '" + def->text + "' called more than " + std::to_string(kMaxMacroDepth) + " deep");
    struct DepthGuard {
      int& d;
      explicit DepthGuard(int& depth) : d(depth) { ++d; }
      ~DepthGuard() { --d; }
    } guard(macro_depth_);
    Scope s{root, {}};
    if (a.positional.size() > def->targets.size())
      throw TemplateError("macro '" + def->text + "' takes not more than " + std::to_string(def->targets.size()) +
                          " arguments");
    for (std::size_t i = 0; i < def->targets.size(); ++i) {
      const std::string& param = def->targets[i];
      if (i < a.positional.size()) s.vars[param] = a.positional[i];
      else if (const Value* kw = a.find_keyword(param)) s.vars[param] = *kw;
      else if (def->defaults[i]) s.vars[param] = eval(*def->defaults[i], s);
      else s.vars[param] = Value::undefined("'" + param + "' is undefined");
    }
    for (const auto& [k, _] : a.keyword) {
      bool known = false;
      for (const auto& p : def->targets) known = known || p == k;
      if (!known) throw TemplateError("macro '" + def->text + "' takes no keyword argument '" + k + "'");
    }
    std::string text;
    exec(def->bodies[0], s, text);
    return Value(std::move(text));
  }});
}

CallArgs Interpreter::eval_args(const Expr& e, std::size_t first, Scope& scope) {
  CallArgs a;
  for (std::size_t i = first; i < e.args.size(); ++i) {
    Value v = eval(*e.args[i], scope);
    const std::string& name = e.arg_names[i - first];
    if (name.empty()) a.positional.push_back(std::move(v));
    else a.keyword.emplace_back(name, std::move(v));
  }
  return a;
}

Value Interpreter::eval_call(const Expr& e, Scope& scope) {
  const Expr& callee = *e.args[0];
  if (callee.kind == Expr::Kind::kAttr) {
    Value object = eval(*callee.args[0], scope);
    if (object.is_mapping()) {
      const Value* member = object.as_dict().find(callee.name);
      if (member && member->kind() == Value::Kind::kCallable) return member->as_callable().fn(eval_args(e, 1, scope));
    }
    return call_method(object, callee.name, eval_args(e, 1, scope));
  }
  Value fn = eval(callee, scope);
  if (fn.is_undefined()) fail_undefined(fn);
  if (fn.kind() != Value::Kind::kCallable) throw TemplateError("'" + fn.type_name() + "' object is not callable", e.line);
  return fn.as_callable().fn(eval_args(e, 1, scope));
}

Value Interpreter::eval_subscript(const Expr& e, Scope& scope) {
  Value obj = eval(*e.args[0], scope);
  if (obj.is_undefined()) fail_undefined(obj);
  if (e.kind == Expr::Kind::kSlice) {
    Value parts[3];
    for (int i = 0; i < 3; ++i)
      if (e.args[static_cast<std::size_t>(i) + 1]) parts[i] = eval(*e.args[static_cast<std::size_t>(i) + 1], scope);
    if (obj.is_string()) {
      const std::string& s = obj.as_string();
      auto offsets = code_point_offsets(s);
      std::string out;
      for (auto i : slice_indexes(static_cast<std::int64_t>(offsets.size()) - 1, parts[0], parts[1], parts[2])) {
        auto k = static_cast<std::size_t>(i);
        out.append(s, offsets[k], offsets[k + 1] - offsets[k]);
      }
      return Value(std::move(out));
    }
    if (obj.is_list()) {
      ValueList out;
      for (auto i : slice_indexes(static_cast<std::int64_t>(obj.as_list().size()), parts[0], parts[1], parts[2]))
        out.push_back(obj.as_list()[static_cast<std::size_t>(i)]);
      return Value(std::move(out));
    }
    throw TemplateError("'" + obj.type_name() + "' object is not subscriptable", e.line);
  }
  Value key = eval(*e.args[1], scope);
  if (obj.is_mapping()) {
    if (key.is_string())
      if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
    return Value::undefined("'dict object' has no attribute " + key.repr());
  }
  if ((obj.is_list() || obj.is_string()) && (key.kind() == Value::Kind::kInt || key.kind() == Value::Kind::kBool)) {
    std::int64_t i = key.as_int();
    if (obj.is_list()) {
      auto n = static_cast<std::int64_t>(obj.as_list().size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined("list object has no element " + key.repr());
      return obj.as_list()[static_cast<std::size_t>(i)];
    }
    auto offsets = code_point_offsets(obj.as_string());
    auto n = static_cast<std::int64_t>(offsets.size()) - 1;
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined("str object has no element " + key.repr());
    auto k = static_cast<std::size_t>(i);
    return Value(obj.as_string().substr(offsets[k], offsets[k + 1] - offsets[k]));
  }
  return Value::undefined("'" + obj.type_name() + " object' has no attribute " + key.repr());
}

Value Interpreter::eval(const Expr& e, Scope& scope) {
  switch (e.kind) {
    case Expr::Kind::kLiteral: return e.value;
    case Expr::Kind::kName: {
      const Value* v = scope.find(e.name);
      return v ? *v : Value::undefined("'" + e.name + "' is undefined");
    }
    case Expr::Kind::kList: {
      ValueList out;
      for (const auto& a : e.args) out.push_back(eval(*a, scope));
      return Value(std::move(out));
    }
    case Expr::Kind::kDict: {
      ValueDict out;
      for (std::size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i], scope);
        if (!k.is_string()) throw TemplateError("dict literal keys must be strings here", e.line);
        out.set(k.as_string(), eval(*e.args[i + 1], scope));
      }
      return Value(std::move(out));
    }
    case Expr::Kind::kAttr: {
      Value obj = eval(*e.args[0], scope);
      if (obj.is_undefined()) fail_undefined(obj);
      if (obj.is_mapping()) {
        if (const Value* v = obj.as_dict().find(e.name)) return *v;
        return Value::undefined("'dict object' has no attribute '" + e.name + "'");
      }
      return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + e.name + "'");
    }
    case Expr::Kind::kIndex:
    case Expr::Kind::kSlice: return eval_subscript(e, scope);
    case Expr::Kind::kCall: return eval_call(e, scope);
    case Expr::Kind::kFilter: return apply_filter(e.name, eval(*e.args[0], scope), eval_args(e, 1, scope));
    case Expr::Kind::kTest: {
      bool r = apply_test(e.name, eval(*e.args[0], scope), eval_args(e, 1, scope));
      return Value(e.negated ? !r : r);
    }
    case Expr::Kind::kNot: return Value(!eval(*e.args[0], scope).truthy());
    case Expr::Kind::kNegate: {
      Value v = eval(*e.args[0], scope);
      if (v.kind() == Value::Kind::kFloat) return Value(-v.as_double());
      if (v.is_number() && v.as_int() == INT64_MIN) throw TemplateError("integer overflow", e.line);
      if (v.is_number()) return Value(-v.as_int());
      if (v.is_undefined()) fail_undefined(v);
      throw TemplateError("bad operand type for unary -: '" + v.type_name() + "'", e.line);
    }
    case Expr::Kind::kBinary: {
      Value a = eval(*e.args[0], scope);
      if (e.name == "and") return a.truthy() ? eval(*e.args[1], scope) : a;
      if (e.name == "or") return a.truthy() ? a : eval(*e.args[1], scope);
      return binary_op(e.name, a, eval(*e.args[1], scope));
    }
    case Expr::Kind::kCompare: {
      Value lhs = eval(*e.args[0], scope);
      for (std::size_t i = 0; i < e.ops.size(); ++i) {
        Value rhs = eval(*e.args[i + 1], scope);
        if (!compare_op(e.ops[i], lhs, rhs)) return Value(false);
        lhs = std::move(rhs);
      }
      return Value(true);
    }
    case Expr::Kind::kCondition:
      if (eval(*e.args[1], scope).truthy()) return eval(*e.args[0], scope);
      return e.args[2] ? eval(*e.args[2], scope) : Value::undefined("the inline if had no else");
  }
  return Value();
}

}  // namespace ladle::jinja
