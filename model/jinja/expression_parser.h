// ExpressionParser: recursive descent over the tokens of one tag (lexer.h) into an expression
// tree (ast.h), with Jinja2's precedence; the statement parser (parser.cc) drives it, one per tag.
// Filters, tests and methods are checked against builtins.h here, so an unknown one is a load
// error with its line. Header-only: its one user is parser.cc.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/jinja/ast.h"
#include "model/jinja/builtins.h"
#include "model/jinja/error.h"
#include "model/jinja/lexer.h"

namespace ladle::jinja {

// Real chat templates nest a few levels; this bounds the stack a hostile one can take (the
// parser's, and the interpreter's, which recurses as the tree does).
inline constexpr int kMaxNesting = 64;

class ExpressionParser {
 public:
  explicit ExpressionParser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  const Token& peek(std::size_t ahead = 0) const { return t_[std::min(i_ + ahead, t_.size() - 1)]; }
  bool at_end() const { return peek().kind == Token::Kind::kEnd; }
  bool is_op(std::string_view op, std::size_t ahead = 0) const {
    return peek(ahead).kind == Token::Kind::kOperator && peek(ahead).text == op;
  }
  bool is_name(std::string_view name, std::size_t ahead = 0) const {
    return peek(ahead).kind == Token::Kind::kName && peek(ahead).text == name;
  }
  Token next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }
  [[noreturn]] void fail(const std::string& what) const {
    std::string got = at_end() ? "end of tag" : "'" + peek().text + "'";
    throw TemplateError(what + " (got " + got + ")", peek().line);
  }
  void expect_op(std::string_view op) {
    if (!is_op(op)) fail("expected '" + std::string(op) + "'");
    next();
  }
  std::string expect_name() {
    if (peek().kind != Token::Kind::kName) fail("expected a name");
    return next().text;
  }
  void expect_end() {
    if (!at_end()) fail("expected end of tag");
  }

  ExprPtr node(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // Every recursion of the grammar passes through expression(), not_expr() or unary(): their depth
  // bounds the parser's and the interpreter's stack use on a hostile template.
  struct Nest {
    int& depth;
    Nest(int& d, int line) : depth(d) {
      if (++depth > kMaxNesting) {
        --depth;
        throw TemplateError("expression nested more than " + std::to_string(kMaxNesting) + " deep", line);
      }
    }
    ~Nest() { --depth; }
  };

  ExprPtr expression() {  // a if cond else b
    Nest nest(depth_, peek().line);
    ExprPtr e = or_expr();
    while (is_name("if")) {
      int line = next().line;
      auto c = node(Expr::Kind::kCondition, line);
      c->args.push_back(std::move(e));
      c->args.push_back(or_expr());
      c->args.push_back(is_name("else") ? (next(), expression()) : nullptr);
      e = std::move(c);
    }
    return e;
  }

  ExprPtr or_expr() { return binary_chain({"or"}, &ExpressionParser::and_expr, true); }
  ExprPtr and_expr() { return binary_chain({"and"}, &ExpressionParser::not_expr, true); }
  ExprPtr not_expr() {
    Nest nest(depth_, peek().line);
    if (is_name("not")) {
      auto e = node(Expr::Kind::kNot, next().line);
      e->args.push_back(not_expr());
      return e;
    }
    return compare();
  }
  ExprPtr compare() {
    ExprPtr first = math1();
    ExprPtr cmp;
    for (;;) {
      std::string op;
      if (peek().kind == Token::Kind::kOperator &&
          (peek().text == "==" || peek().text == "!=" || peek().text == "<" || peek().text == ">" ||
           peek().text == "<=" || peek().text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        next();
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      if (!cmp) {
        cmp = node(Expr::Kind::kCompare, first->line);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }
  ExprPtr math1() { return binary_chain({"+", "-"}, &ExpressionParser::concat, false); }
  ExprPtr concat() { return binary_chain({"~"}, &ExpressionParser::math2, false); }
  ExprPtr math2() { return binary_chain({"*", "/", "//", "%"}, &ExpressionParser::power, false); }
  ExprPtr power() { return binary_chain({"**"}, &ExpressionParser::unary_with_filters, false); }

  ExprPtr binary_chain(std::initializer_list<std::string_view> ops, ExprPtr (ExpressionParser::*operand)(),
                       bool keyword) {
    ExprPtr lhs = (this->*operand)();
    for (;;) {
      const Token& tok = peek();
      bool match = false;
      for (auto op : ops)
        match = match || (tok.kind == (keyword ? Token::Kind::kName : Token::Kind::kOperator) && tok.text == op);
      if (!match) return lhs;
      auto e = node(Expr::Kind::kBinary, tok.line);
      e->name = next().text;
      e->args.push_back(std::move(lhs));
      e->args.push_back((this->*operand)());
      lhs = std::move(e);
    }
  }

  ExprPtr unary_with_filters() { return filters(unary()); }
  ExprPtr unary() {
    Nest nest(depth_, peek().line);
    if (is_op("-")) {
      auto e = node(Expr::Kind::kNegate, next().line);
      e->args.push_back(unary());
      return e;
    }
    if (is_op("+")) {
      next();
      return unary();
    }
    return postfix(primary());
  }

  void call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().kind == Token::Kind::kName && is_op("=", 1)) {
        e.arg_names.push_back(next().text);
        next();
      } else {
        if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
        e.arg_names.push_back("");
      }
      e.args.push_back(expression());
      if (!is_op(")")) expect_op(",");
    }
    next();
  }

  ExprPtr postfix(ExprPtr e) {
    for (;;) {
      if (is_op(".")) {
        int line = next().line;
        auto a = node(Expr::Kind::kAttr, line);
        if (peek().kind == Token::Kind::kInt) {  // x.0 is x[0] in Jinja
          a->kind = Expr::Kind::kIndex;
          a->args.push_back(std::move(e));
          auto idx = node(Expr::Kind::kLiteral, line);
          idx->value = Value(static_cast<std::int64_t>(std::atoll(next().text.c_str())));
          a->args.push_back(std::move(idx));
        } else {
          a->name = expect_name();
          a->args.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (is_op("[")) {
        e = subscript(std::move(e));
      } else if (is_op("(")) {
        if (e->kind == Expr::Kind::kAttr && !is_known_method(e->name))
          throw TemplateError("unsupported method '" + e->name + "()'", e->line);
        auto c = node(Expr::Kind::kCall, e->line);
        c->args.push_back(std::move(e));
        call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprPtr subscript(ExprPtr obj) {
    int line = next().line;  // '['
    std::vector<ExprPtr> parts;
    bool is_slice = false;
    for (int part = 0; part < 3; ++part) {
      parts.push_back(is_op(":") || is_op("]") ? nullptr : expression());
      if (!is_op(":")) break;
      is_slice = true;
      next();
    }
    expect_op("]");
    auto e = node(is_slice ? Expr::Kind::kSlice : Expr::Kind::kIndex, line);
    e->args.push_back(std::move(obj));
    if (!is_slice && !parts[0]) fail("empty subscript");
    for (auto& p : parts) e->args.push_back(std::move(p));
    while (is_slice && e->args.size() < 4) e->args.push_back(nullptr);
    return e;
  }

  ExprPtr filters(ExprPtr e) {
    for (;;) {
      if (is_op("|")) {
        int line = next().line;
        auto f = node(Expr::Kind::kFilter, line);
        f->name = expect_name();
        if (!is_known_filter(f->name)) throw TemplateError("unsupported filter '" + f->name + "'", line);
        f->args.push_back(std::move(e));
        if (is_op("(")) call_args(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        int line = next().line;
        auto t = node(Expr::Kind::kTest, line);
        if (is_name("not")) {
          next();
          t->negated = true;
        }
        t->name = peek().kind == Token::Kind::kOperator && (is_op("==") || is_op("!=") || is_op("<") ||
                                                              is_op(">") || is_op("<=") || is_op(">="))
                      ? next().text
                      : expect_name();
        if (!is_known_test(t->name)) throw TemplateError("unsupported test '" + t->name + "'", line);
        t->args.push_back(std::move(e));
        if (is_op("(")) {
          call_args(*t);
        } else if ((peek().kind == Token::Kind::kName || peek().kind == Token::Kind::kString ||
                    peek().kind == Token::Kind::kInt || peek().kind == Token::Kind::kFloat || is_op("[") ||
                    is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          t->arg_names.push_back("");
          t->args.push_back(postfix(primary()));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  ExprPtr primary() {
    const std::size_t start = i_;
    const Token tok = next();
    auto lit = [&](Value v) {
      auto e = node(Expr::Kind::kLiteral, tok.line);
      e->value = std::move(v);
      return e;
    };
    switch (tok.kind) {
      case Token::Kind::kName:
        if (tok.text == "true" || tok.text == "True") return lit(Value(true));
        if (tok.text == "false" || tok.text == "False") return lit(Value(false));
        if (tok.text == "none" || tok.text == "None") return lit(Value(nullptr));
        {
          auto e = node(Expr::Kind::kName, tok.line);
          e->name = tok.text;
          return e;
        }
      case Token::Kind::kString: {
        std::string s = tok.text;
        while (peek().kind == Token::Kind::kString) s += next().text;  // "a" "b" is "ab"
        return lit(Value(std::move(s)));
      }
      case Token::Kind::kInt: return lit(Value(static_cast<std::int64_t>(std::strtoll(tok.text.c_str(), nullptr, 10))));
      case Token::Kind::kFloat: return lit(Value(std::strtod(tok.text.c_str(), nullptr)));
      case Token::Kind::kOperator:
        if (tok.text == "(") {
          if (is_op(")")) {
            next();
            return node(Expr::Kind::kList, tok.line);
          }
          ExprPtr e = expression();
          if (!is_op(",")) {
            expect_op(")");
            return e;
          }
          auto t = node(Expr::Kind::kList, tok.line);
          t->args.push_back(std::move(e));
          while (is_op(",")) {
            next();
            if (is_op(")")) break;
            t->args.push_back(expression());
          }
          expect_op(")");
          return t;
        }
        if (tok.text == "[" || tok.text == "{") {
          bool dict = tok.text == "{";
          auto e = node(dict ? Expr::Kind::kDict : Expr::Kind::kList, tok.line);
          std::string close = dict ? "}" : "]";
          while (!is_op(close)) {
            e->args.push_back(expression());
            if (dict) {
              expect_op(":");
              e->args.push_back(expression());
            }
            if (!is_op(close)) expect_op(",");
          }
          next();
          return e;
        }
        break;
      default: break;
    }
    i_ = start;
    fail("expected an expression");
  }

 private:
  std::vector<Token> t_;
  std::size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace ladle::jinja
