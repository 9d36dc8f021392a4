// pretokenizer: llama.cpp's word splitting for byte-level BPE (see pretokenizer.h).
//
// NOTE(bpe): llama.cpp matches the GPT-2, Llama 3 and Qwen 2 regexes with hand-written scanners
// (unicode.cpp), not a regex engine, and its ids come from what those scanners do, including where
// they differ from the regexes (GPT-2's scanner also takes a lone whitespace before a non-space,
// which the regex, lacking a final `\s+`, would not). The scanners below reproduce that behaviour
// branch for branch; the "default" chain's regexes are simple enough (character-class runs, runs of
// three digits) that their std::regex splits are written out directly.
#include "model/pretokenizer.h"

#include <cstddef>
#include <cstdint>

#include "model/unicode_class.h"

namespace ladle::model {
namespace {

constexpr std::uint32_t kOutOfRange = 0xFFFFFFFF;

// The text as codepoints, with their flags and byte offsets (offsets has one entry more: the end).
struct Codepoints {
  std::vector<std::uint32_t> cps;
  std::vector<std::uint16_t> flags;
  std::vector<std::size_t> offsets;

  explicit Codepoints(std::string_view text) {
    cps.reserve(text.size());
    flags.reserve(text.size());
    offsets.reserve(text.size() + 1);
    for (std::size_t pos = 0; pos < text.size();) {
      const DecodedCodepoint d = decode_utf8(text, pos);
      cps.push_back(d.cp);
      flags.push_back(unicode_flags(d.cp));
      offsets.push_back(pos);
      pos += d.len;
    }
    offsets.push_back(text.size());
  }
};

// One piece [ini, end) of the codepoints being split; add() records the end of a word. Outside
// the piece, cpt() is kOutOfRange and flags() 0, as the scanners expect.
class Piece {
 public:
  Piece(const Codepoints& t, std::size_t ini, std::size_t end, std::vector<std::size_t>& ends)
      : t_(t), end_(end), prev_(ini), ends_(ends) {}
  std::uint32_t cpt(std::size_t pos) const { return pos < end_ ? t_.cps[pos] : kOutOfRange; }
  std::uint16_t flags(std::size_t pos) const { return pos < end_ ? t_.flags[pos] : 0; }
  std::size_t end() const { return end_; }
  void add(std::size_t end) {
    if (end > prev_) ends_.push_back(end);
    prev_ = end;
  }

 private:
  const Codepoints& t_;
  std::size_t end_;
  std::size_t prev_;
  std::vector<std::size_t>& ends_;
};

bool is_cr_or_lf(std::uint32_t c) { return c == '\r' || c == '\n'; }
std::uint32_t ascii_lower(std::uint32_t c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }
constexpr std::uint16_t kWordClass = kWhitespace | kLetter | kNumber;

// The length (2 or 3) of a contraction 's 't 're 've 'm 'll 'd at pos, or 0. `fold` lowercases.
std::size_t contraction_at(const Piece& p, std::size_t pos, std::uint32_t (*fold)(std::uint32_t)) {
  if (p.cpt(pos) != '\'' || pos + 1 >= p.end()) return 0;
  const std::uint32_t c1 = fold(p.cpt(pos + 1));
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (pos + 2 >= p.end()) return 0;
  const std::uint32_t c2 = fold(p.cpt(pos + 2));
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

std::uint32_t identity(std::uint32_t c) { return c; }

// Whitespace from pos: \s+(?!\S) leaves the last one to the next word, then \s+.
void split_whitespace_tail(Piece& p, std::size_t& pos) {
  std::size_t n = 0;
  while (is_whitespace(p.flags(pos + n))) ++n;
  if (n > 1 && p.cpt(pos + n) != kOutOfRange) {
    pos += n - 1;
  } else if (n > 0) {
    pos += n;
  } else {
    ++pos;  // matched by no branch: a word of its own
  }
  p.add(pos);
}

void split_gpt2(Piece& p, std::size_t pos) {
  while (pos < p.end()) {
    const std::uint32_t cpt = p.cpt(pos);
    if (const std::size_t n = contraction_at(p, pos, identity)) {
      pos += n;
      p.add(pos);
      continue;
    }
    // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': an optional space, then a run of one kind.
    std::uint16_t f2 = cpt == ' ' ? p.flags(pos + 1) : p.flags(pos);
    const auto run = [&](auto in_run) {
      pos += cpt == ' ';
      while (in_run(f2)) f2 = p.flags(++pos);
      p.add(pos);
    };
    if (is_letter(f2)) {
      run([](std::uint16_t f) { return is_letter(f); });
    } else if (is_number(f2)) {
      run([](std::uint16_t f) { return is_number(f); });
    } else if (!(f2 & kWordClass) && f2 != 0) {
      run([](std::uint16_t f) { return !(f & kWordClass) && f != 0; });
    } else {
      split_whitespace_tail(p, pos);
    }
  }
}

// Llama 3 (max_digits 3) and Qwen 2 (max_digits 1).
void split_llama3(Piece& p, std::size_t pos, std::size_t max_digits) {
  while (pos < p.end()) {
    const std::uint32_t cpt = p.cpt(pos);
    const std::uint16_t flags = p.flags(pos);
    if (const std::size_t n = contraction_at(p, pos, ascii_lower)) {
      pos += n;
      p.add(pos);
      continue;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!is_cr_or_lf(cpt) && !is_number(flags) && (is_letter(flags) || is_letter(p.flags(pos + 1)))) {
      ++pos;
      while (is_letter(p.flags(pos))) ++pos;
      p.add(pos);
      continue;
    }
    // \p{N}{1,max_digits}
    if (is_number(flags)) {
      std::size_t ini = pos;
      while (is_number(p.flags(pos))) {
        if (++pos - ini >= max_digits) {
          p.add(pos);
          ini = pos;
        }
      }
      p.add(pos);
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*' (the first test is of the space itself, as llama.cpp's)
    std::uint16_t f2 = cpt == ' ' ? p.flags(pos + 1) : flags;
    if (!(f2 & kWordClass) && flags != 0) {
      pos += cpt == ' ';
      while (!(f2 & kWordClass) && f2 != 0) f2 = p.flags(++pos);
      while (is_cr_or_lf(p.cpt(pos))) ++pos;
      p.add(pos);
      continue;
    }
    // \s*[\r\n]+: through the last CR or LF of the whitespace run
    std::size_t n = 0, last_cr_lf_end = 0;
    while (is_whitespace(p.flags(pos + n))) {
      if (is_cr_or_lf(p.cpt(pos + n))) last_cr_lf_end = pos + n + 1;
      ++n;
    }
    if (last_cr_lf_end > 0) {
      pos = last_cr_lf_end;
      p.add(pos);
      continue;
    }
    split_whitespace_tail(p, pos);
  }
}

// A regex that is one character class repeated (`[...]+`): its maximal runs and the gaps between.
template <typename InClass>
void split_runs(const Codepoints& t, std::size_t ini, std::size_t end, std::vector<std::size_t>& ends,
                InClass in_class) {
  for (std::size_t pos = ini; pos < end;) {
    const bool in = in_class(t.cps[pos], t.flags[pos]);
    while (pos < end && in_class(t.cps[pos], t.flags[pos]) == in) ++pos;
    ends.push_back(pos);
  }
}

// [0-9][0-9][0-9]: leftmost runs of three ASCII digits, and the gaps between.
void split_digit_triples(const Codepoints& t, std::size_t ini, std::size_t end, std::vector<std::size_t>& ends) {
  const auto digit = [&](std::size_t i) { return t.cps[i] >= '0' && t.cps[i] <= '9'; };
  std::size_t gap = ini;
  for (std::size_t pos = ini; pos < end;) {
    if (pos + 3 <= end && digit(pos) && digit(pos + 1) && digit(pos + 2)) {
      if (pos > gap) ends.push_back(pos);
      pos += 3;
      ends.push_back(pos);
      gap = pos;
    } else {
      ++pos;
    }
  }
  if (end > gap) ends.push_back(end);
}

// The "default" chain's classes as llama.cpp's collapsed std::regex sees them: ASCII as itself,
// anything else by its class (whitespace first).
bool default_punctuation(std::uint32_t cp, std::uint16_t f) {
  if (cp < 0x80) return std::string_view("!\"#%&'()*,-./:;?@[\\]_{}$+<=>^~|").find(char(cp)) != std::string_view::npos;
  return !is_whitespace(f) && (f & kPunctuation);
}
bool default_number(std::uint32_t cp, std::uint16_t f) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return !is_whitespace(f) && is_number(f);
}

// Applies one splitting step to every piece of `ends` (word ends over t) and returns the new ends.
template <typename SplitPiece>
std::vector<std::size_t> refine(const std::vector<std::size_t>& ends, SplitPiece split_piece) {
  std::vector<std::size_t> out;
  out.reserve(ends.size() * 2);
  std::size_t ini = 0;
  for (std::size_t end : ends) {
    split_piece(ini, end, out);
    ini = end;
  }
  return out;
}

}  // namespace

std::optional<PreTokenizer> pretokenizer_from_name(std::string_view name) {
  if (name == "default") return PreTokenizer::kDefault;
  if (name == "gpt-2") return PreTokenizer::kGpt2;
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") return PreTokenizer::kLlama3;
  if (name == "qwen2" || name == "deepseek-r1-qwen") return PreTokenizer::kQwen2;
  return std::nullopt;
}

const char* pretokenizer_name(PreTokenizer kind) {
  switch (kind) {
    case PreTokenizer::kDefault: return "default";
    case PreTokenizer::kGpt2: return "gpt-2";
    case PreTokenizer::kLlama3: return "llama-bpe";
    case PreTokenizer::kQwen2: return "qwen2";
  }
  return "?";
}

void pretokenize(PreTokenizer kind, std::string_view text, std::vector<std::string_view>& words) {
  if (text.empty()) return;
  const Codepoints t(text);
  std::vector<std::size_t> ends{t.cps.size()};
  const auto scanner = [&](auto scan) {
    return [&t, scan](std::size_t ini, std::size_t end, std::vector<std::size_t>& out) {
      Piece p(t, ini, end, out);
      scan(p, ini);
    };
  };
  switch (kind) {
    case PreTokenizer::kGpt2:
      ends = refine(ends, scanner([](Piece& p, std::size_t pos) { split_gpt2(p, pos); }));
      break;
    case PreTokenizer::kLlama3:
      ends = refine(ends, scanner([](Piece& p, std::size_t pos) { split_llama3(p, pos, 3); }));
      break;
    case PreTokenizer::kQwen2:
      ends = refine(ends, scanner([](Piece& p, std::size_t pos) { split_llama3(p, pos, 1); }));
      break;
    case PreTokenizer::kDefault:
      ends = refine(ends, [&](std::size_t i, std::size_t e, std::vector<std::size_t>& out) {
        split_runs(t, i, e, out, default_punctuation);
      });
      ends = refine(ends, scanner([](Piece& p, std::size_t pos) { split_gpt2(p, pos); }));
      ends = refine(ends, [&](std::size_t i, std::size_t e, std::vector<std::size_t>& out) {
        split_runs(t, i, e, out, default_number);
      });
      ends = refine(ends, [&](std::size_t i, std::size_t e, std::vector<std::size_t>& out) {
        split_digit_triples(t, i, e, out);
      });
      break;
  }
  std::size_t ini = 0;
  for (std::size_t end : ends) {
    const std::size_t from = t.offsets[ini], to = t.offsets[end];
    words.push_back(text.substr(from, to - from));
    ini = end;
  }
}

}  // namespace ladle::model
