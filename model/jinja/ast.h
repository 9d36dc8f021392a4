// The jinja syntax tree: what the parser builds once at load and the interpreter walks per render.
// One node type per layer (Expr, Stmt) with a kind tag, in the style of a small tree-walker: every
// node records its template line for error messages.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/jinja/value.h"

namespace ladle::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,   // value
    kName,      // name
    kList,      // args = items (a tuple is a list)
    kDict,      // args = key, value, key, value, ...
    kAttr,      // args[0].name
    kIndex,     // args[0][args[1]]
    kSlice,     // args[0][args[1]:args[2]:args[3]] (null parts are omitted)
    kCall,      // args[0](args[1..]); arg_names[i] names args[i + 1] ("" = positional)
    kFilter,    // args[0] | name(args[1..]) with arg_names as for kCall
    kTest,      // args[0] is [not] name(args[1..]); negated
    kNot,       // not args[0]
    kNegate,    // -args[0]
    kBinary,    // args[0] op args[1]: + - * / // % ** ~ and or in "not in"
    kCompare,   // args[0] ops[0] args[1] ops[1] args[2] ... (== != < <= > >=, chained)
    kCondition  // args[0] if args[1] else args[2] (args[2] null: undefined)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;  // kName, kAttr, kFilter, kTest; the operator of kBinary
  std::vector<ExprPtr> args;
  std::vector<std::string> arg_names;
  std::vector<std::string> ops;
  bool negated = false;
};

struct Stmt;
using StmtList = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  enum class Kind {
    kText,       // text
    kOutput,     // {{ expr }}
    kIf,         // conditions[i] → bodies[i]; bodies.back() is the else branch when it has one more
    kFor,        // for targets in expr [if filter]: bodies[0], else bodies[1]
    kSet,        // set targets = expr | set target.attr = expr | {% set target %}bodies[0]{% endset %}
    kMacro,      // macro name(params = defaults): bodies[0]
    kBreak,
    kContinue,
    kGeneration  // transformers' {% generation %}: bodies[0], rendered as it is
  };
  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;
  std::vector<ExprPtr> conditions;
  std::vector<StmtList> bodies;
  std::vector<std::string> targets;  // loop / set names; kMacro: parameter names
  std::string attr;                  // kSet on a namespace: `set targets[0].attr = ...`
  std::vector<ExprPtr> defaults;     // kMacro: default per parameter (null: none)
};

}  // namespace ladle::jinja
