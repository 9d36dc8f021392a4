#include "model/jinja/parser.h"

#include <memory>
#include <set>
#include <string>
#include <utility>

#include "model/jinja/error.h"
#include "model/jinja/expression_parser.h"
#include "model/jinja/lexer.h"

namespace ladle::jinja {
namespace {

// Statements over the segment list; block statements recurse until their end tag.
class TemplateParser {
 public:
  explicit TemplateParser(std::vector<Segment> segments) : s_(std::move(segments)) {}

  StmtList parse_all() {
    std::string end;
    StmtList body = parse_body({}, &end);
    return body;
  }

 private:
  // Parses statements until one whose first word is in `ends` (returned in *end, its parser in
  // tail_), or the template's end (an error when an end tag was expected).
  StmtList parse_body(const std::set<std::string>& ends, std::string* end) {
    StmtList out;
    while (pos_ < s_.size()) {
      const Segment& seg = s_[pos_++];
      auto st = std::make_unique<Stmt>();
      st->line = seg.line;
      if (seg.kind == Segment::Kind::kText) {
        st->kind = Stmt::Kind::kText;
        st->text = seg.text;
        out.push_back(std::move(st));
        continue;
      }
      ExpressionParser p(tokenize(seg.text, seg.line));
      if (seg.kind == Segment::Kind::kExpression) {
        st->kind = Stmt::Kind::kOutput;
        st->expr = p.expression();
        p.expect_end();
        out.push_back(std::move(st));
        continue;
      }
      std::string word = p.at_end() ? "" : p.peek().text;
      if (ends.count(word)) {
        p.next();
        *end = word;
        tail_ = std::make_unique<ExpressionParser>(std::move(p));
        return out;
      }
      p.next();
      out.push_back(statement(word, p, seg.line));
    }
    if (!ends.empty())
      throw TemplateError("missing '{% " + *ends.rbegin() + " %}' (the template ended inside a block)",
                          s_.empty() ? 1 : s_.back().line);
    return out;
  }

  std::unique_ptr<Stmt> statement(const std::string& word, ExpressionParser& p, int line) {
    if (depth_ >= kMaxNesting)
      throw TemplateError("blocks nested more than " + std::to_string(kMaxNesting) + " deep", line);
    struct Unnest {
      int& d;
      ~Unnest() { --d; }
    } unnest{++depth_};
    auto st = std::make_unique<Stmt>();
    st->line = line;
    std::string end;
    if (word == "if") {
      st->kind = Stmt::Kind::kIf;
      st->conditions.push_back(p.expression());
      p.expect_end();
      for (;;) {
        st->bodies.push_back(parse_body({"elif", "else", "endif"}, &end));
        if (end == "elif") {
          st->conditions.push_back(tail_->expression());
          tail_->expect_end();
        } else if (end == "else") {
          tail_->expect_end();
          st->bodies.push_back(parse_body({"endif"}, &end));
          tail_->expect_end();
          break;
        } else {
          tail_->expect_end();
          break;
        }
      }
    } else if (word == "for") {
      st->kind = Stmt::Kind::kFor;
      st->targets.push_back(p.expect_name());
      while (p.is_op(",")) {
        p.next();
        st->targets.push_back(p.expect_name());
      }
      if (!p.is_name("in")) p.fail("expected 'in' in a for loop");
      p.next();
      st->expr = p.or_expr();
      if (p.is_name("if")) {
        p.next();
        st->filter = p.expression();
      }
      if (p.is_name("recursive")) throw TemplateError("unsupported construct 'for ... recursive'", line);
      p.expect_end();
      st->bodies.push_back(parse_body({"else", "endfor"}, &end));
      tail_->expect_end();
      if (end == "else") {
        st->bodies.push_back(parse_body({"endfor"}, &end));
        tail_->expect_end();
      }
    } else if (word == "set") {
      st->kind = Stmt::Kind::kSet;
      st->targets.push_back(p.expect_name());
      if (p.is_op(".")) {
        p.next();
        st->attr = p.expect_name();
      }
      while (p.is_op(",") && st->attr.empty()) {
        p.next();
        st->targets.push_back(p.expect_name());
      }
      if (p.is_op("=")) {
        p.next();
        st->expr = p.expression();
        p.expect_end();
      } else {
        if (st->targets.size() != 1 || !st->attr.empty()) p.fail("expected '='");
        p.expect_end();
        st->bodies.push_back(parse_body({"endset"}, &end));
        tail_->expect_end();
      }
    } else if (word == "macro") {
      st->kind = Stmt::Kind::kMacro;
      st->text = p.expect_name();
      p.expect_op("(");
      while (!p.is_op(")")) {
        st->targets.push_back(p.expect_name());
        if (p.is_op("=")) {
          p.next();
          st->defaults.push_back(p.expression());
        } else {
          st->defaults.push_back(nullptr);
        }
        if (!p.is_op(")")) p.expect_op(",");
      }
      p.next();
      p.expect_end();
      st->bodies.push_back(parse_body({"endmacro"}, &end));
      tail_->expect_end();
    } else if (word == "break" || word == "continue") {
      st->kind = word == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      p.expect_end();
    } else if (word == "generation") {
      st->kind = Stmt::Kind::kGeneration;
      p.expect_end();
      st->bodies.push_back(parse_body({"endgeneration"}, &end));
      tail_->expect_end();
    } else if (word == "elif" || word == "else" || word.rfind("end", 0) == 0) {
      throw TemplateError("unexpected '{% " + word + " %}' (no open block it closes)", line);
    } else if (word.empty()) {
      throw TemplateError("empty statement '{% %}'", line);
    } else {
      throw TemplateError("unsupported statement '{% " + word + " %}'", line);
    }
    return st;
  }

  std::vector<Segment> s_;
  std::size_t pos_ = 0;
  std::unique_ptr<ExpressionParser> tail_;  // the parser of the end tag that closed the last body
  int depth_ = 0;
};

}  // namespace

StmtList parse_template(std::string_view source) { return TemplateParser(split_template(source)).parse_all(); }

}  // namespace ladle::jinja
