#include "bench/loadgen/chunk_scanner.h"

#include <cstdint>
#include <limits>
#include <string>

#include "model/utf8.h"

namespace ladle::loadgen {
namespace {

// What the members of one object looked like, for the fields a chunk carries.
struct Field {
  bool seen = false;
  bool is_string = false;
  std::string text;
};

// A cursor over the JSON text. Every method returns false when the input is not something the
// fast path accepts; the whole scan then declines.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  bool at_end() {
    ws();
    return i_ == s_.size();
  }
  bool consume(char c) {
    ws();
    if (i_ >= s_.size() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  bool peek(char c) {
    ws();
    return i_ < s_.size() && s_[i_] == c;
  }

  // A JSON string, decoded into `out` (when given).
  bool string(std::string* out) {
    if (!consume('"')) return false;
    const std::size_t start = i_;
    bool ascii = true;
    if (out) out->clear();
    for (std::size_t run = i_; i_ < s_.size(); ++i_) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c < 0x20) return false;
      if (c >= 0x80) ascii = false;
      if (c != '"' && c != '\\') continue;
      if (out) out->append(s_.data() + run, i_ - run);
      if (c == '"') {
        ++i_;
        return ascii || model::is_valid_utf8(s_.substr(start, i_ - 1 - start));
      }
      if (!escape(out)) return false;
      run = i_ + 1;
    }
    return false;
  }

  // A number; `out` receives it when it is an integer literal that fits an int. A fraction or
  // exponent is accepted only when `out` is null (the value is being skipped).
  bool number(int* out) {
    ws();
    const std::size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (!digits()) return false;
    if (s_[start + (s_[start] == '-')] == '0' && i_ - start > 1u + (s_[start] == '-')) return false;
    const bool integral = i_ == s_.size() || (s_[i_] != '.' && s_[i_] != 'e' && s_[i_] != 'E');
    if (!integral) {
      if (out) return false;
      if (s_[i_] == '.' && (++i_, !digits())) return false;
      if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
        ++i_;
        if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
        if (!digits()) return false;
      }
      return true;
    }
    if (!out) return true;
    if (i_ - start > 10) return false;
    const long long v = std::stoll(std::string(s_.substr(start, i_ - start)));
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return false;
    *out = static_cast<int>(v);
    return true;
  }

  // Any value, discarded. Chunks nest a few levels; deeper input is left to the full parser.
  bool skip(int depth = 0) {
    if (depth > 16) return false;
    ws();
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '"': return string(nullptr);
      case '{': return object([&](std::string_view) { return skip(depth + 1); });
      case '[': return array([&](int) { return skip(depth + 1); });
      case 't': return literal("true");
      case 'f': return literal("false");
      case 'n': return literal("null");
      default: return number(nullptr);
    }
  }

  // {"key": value, ...}: `member(key)` must consume the value.
  template <typename Member>
  bool object(Member&& member) {
    if (!consume('{')) return false;
    if (consume('}')) return true;
    std::string key;
    do {
      if (!string(&key) || !consume(':') || !member(std::string_view(key))) return false;
    } while (consume(','));
    return consume('}');
  }

  // [value, ...]: `element(index)` must consume the value.
  template <typename Element>
  bool array(Element&& element) {
    if (!consume('[')) return false;
    if (consume(']')) return true;
    int index = 0;
    do {
      if (!element(index++)) return false;
    } while (consume(','));
    return consume(']');
  }

  bool literal(std::string_view word) {
    ws();
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  // A string member: records it, or skips a value of another type. A repeated key declines.
  bool field(Field& f) {
    if (f.seen) return false;
    f.seen = true;
    if (!peek('"')) return skip();
    f.is_string = true;
    return string(&f.text);
  }

 private:
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool digits() {
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  bool hex4(std::uint32_t& v) {
    if (i_ + 4 >= s_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[++i_];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      v = v * 16 + std::uint32_t(d);
    }
    return true;
  }
  // At the backslash; leaves i_ on the escape's last character.
  bool escape(std::string* out) {
    if (++i_ >= s_.size()) return false;
    char c = s_[i_];
    switch (c) {
      case '"': case '\\': case '/': break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'n': c = '\n'; break;
      case 'r': c = '\r'; break;
      case 't': c = '\t'; break;
      case 'u': return unicode_escape(out);
      default: return false;
    }
    if (out) *out += c;
    return true;
  }
  bool unicode_escape(std::string* out) {
    std::uint32_t cp = 0;
    if (!hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a lone low surrogate
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      std::uint32_t lo = 0;
      if (i_ + 2 >= s_.size() || s_[i_ + 1] != '\\' || s_[i_ + 2] != 'u') return false;
      i_ += 2;
      if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (out) append_utf8(*out, cp);
    return true;
  }
  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// choices[0] of a chunk, read with the rules of parse_chunk's choice_text.
struct Choice {
  Field text, finish_reason;
  bool holder_seen[2] = {false, false};   // "delta", "message"
  bool holder_object[2] = {false, false};
  Field content[2], reasoning[2];

  bool read_holder(Scanner& sc, int h) {
    if (holder_seen[h]) return false;
    holder_seen[h] = true;
    if (!sc.peek('{')) return sc.skip();
    holder_object[h] = true;
    return sc.object([&](std::string_view key) {
      if (key == "content") return sc.field(content[h]);
      if (key == "reasoning_content") return sc.field(reasoning[h]);
      return sc.skip();
    });
  }
  bool read(Scanner& sc) {
    if (!sc.peek('{')) return false;
    return sc.object([&](std::string_view key) {
      if (key == "text") return sc.field(text);
      if (key == "finish_reason") return sc.field(finish_reason);
      if (key == "delta") return read_holder(sc, 0);
      if (key == "message") return read_holder(sc, 1);
      return sc.skip();
    });
  }
  std::string content_for(ApiEndpoint endpoint) const {
    if (endpoint == ApiEndpoint::kCompletions) return text.is_string ? text.text : std::string();
    for (int h = 0; h < 2; ++h) {
      if (!holder_object[h]) continue;
      std::string s = content[h].is_string ? content[h].text : std::string();
      if (s.empty() && reasoning[h].is_string) s = reasoning[h].text;
      return s;
    }
    return {};
  }
};

// "usage": {"completion_tokens": n, "prompt_tokens": n, ...}; counts that are not numbers are
// ignored, as the full parser does; fractional ones decline.
bool read_usage(Scanner& sc, ChunkInfo& info) {
  if (!sc.peek('{')) return sc.skip();
  bool seen[2] = {false, false};
  return sc.object([&](std::string_view key) {
    int k = key == "completion_tokens" ? 0 : key == "prompt_tokens" ? 1 : -1;
    if (k < 0) return sc.skip();
    if (seen[k]) return false;
    seen[k] = true;
    if (sc.peek('"') || sc.peek('{') || sc.peek('[') || sc.peek('t') || sc.peek('f') || sc.peek('n')) return sc.skip();
    int v = 0;
    if (!sc.number(&v)) return false;
    (k == 0 ? info.completion_tokens : info.prompt_tokens) = v;
    return true;
  });
}

}  // namespace

std::optional<ChunkInfo> scan_chunk(std::string_view json, ApiEndpoint endpoint) {
  Scanner sc(json);
  ChunkInfo info;
  Choice choice;
  bool seen_choices = false, seen_usage = false, has_choice = false;
  bool ok = sc.peek('{') && sc.object([&](std::string_view key) {
    if (key == "error") return sc.literal("null");  // an in-band error: the full parser reports it
    if (key == "usage") {
      if (seen_usage) return false;
      seen_usage = true;
      return read_usage(sc, info);
    }
    if (key != "choices") return sc.skip();
    if (seen_choices) return false;
    seen_choices = true;
    if (!sc.peek('[')) return sc.skip();
    return sc.array([&](int index) {
      if (index > 0) return sc.skip();
      has_choice = true;
      return choice.read(sc);
    });
  });
  if (!ok || !sc.at_end()) return std::nullopt;
  if (has_choice) {
    info.content = choice.content_for(endpoint);
    if (choice.finish_reason.is_string) info.finish_reason = choice.finish_reason.text;
  }
  return info;
}

}  // namespace ladle::loadgen
