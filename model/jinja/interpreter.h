// The jinja interpreter: walks a parsed template (ast.h) with a set of variables and returns the
// text. Scoping follows Jinja2: `if` shares its scope, each `for` iteration and each macro call
// gets its own (a `set` inside a loop does not outlive the iteration; namespace() is the way
// out), and `loop` carries index, index0, revindex, revindex0, first, last, length, previtem,
// nextitem and cycle().
//
// Globals every render has: range(), namespace(), dict(). The caller adds its own (a chat
// template adds raise_exception and strftime_now).
//
// Thread-safety: one Interpreter per render; the tree it walks is shared read-only.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/jinja/ast.h"

namespace ladle::jinja {

class Interpreter {
 public:
  explicit Interpreter(const ValueDict& variables);
  // Empties the namespaces the render made: `set ns.me = ns` is a reference cycle that shared
  // ownership alone would leak.
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders `body`; throws TemplateError (with the line of the statement that failed).
  std::string render(const StmtList& body);

 private:
  struct Scope {
    Scope* parent = nullptr;
    std::unordered_map<std::string, Value> vars;
    const Value* find(const std::string& name) const;
  };
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec(const StmtList& body, Scope& scope, std::string& out);
  Flow exec_one(const Stmt& st, Scope& scope, std::string& out);
  Flow exec_for(const Stmt& st, Scope& scope, std::string& out);
  void exec_set(const Stmt& st, Scope& scope);
  void define_macro(const Stmt& st, Scope& scope);

  Value eval(const Expr& e, Scope& scope);
  Value eval_call(const Expr& e, Scope& scope);
  CallArgs eval_args(const Expr& e, std::size_t first, Scope& scope);
  Value eval_subscript(const Expr& e, Scope& scope);

  // Bounds on what a template from a model file may cost: statements and loop iterations run,
  // nested macro calls (each takes stack). A 20-message chat runs a few hundred steps.
  static constexpr std::int64_t kMaxSteps = 1'000'000;
  static constexpr int kMaxMacroDepth = 16;

  Scope globals_;
  Scope root_;
  std::int64_t steps_ = 0;
  int macro_depth_ = 0;
  std::vector<Value> namespaces_;  // every namespace() of this render
};

}  // namespace ladle::jinja
