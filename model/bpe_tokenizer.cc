// BpeTokenizer: byte-level BPE as llama.cpp's llm_tokenizer_bpe (see bpe_tokenizer.h).
#include "model/bpe_tokenizer.h"

#include <algorithm>
#include <queue>

#include "model/bpe_byte_alphabet.h"
#include "model/unicode_class.h"
#include "model/utf8.h"

namespace ladle::model {
namespace {

Error invalid(const std::string& what) { return make_error(ErrorCode::kInvalidArgument, what); }


// The bytes a normal token's alphabet spelling stands for, as llama.cpp's llama_decode_text (a
// character outside the alphabet is kept with llama.cpp's "[UNK_BYTE_0x..]" marker).
std::string decode_alphabet(std::string_view text) {
  std::string out;
  for (std::size_t pos = 0; pos < text.size();) {
    const DecodedCodepoint d = decode_utf8(text, pos);
    if (auto b = byte_of_alphabet_codepoint(d.cp)) {
      out.push_back(char(*b));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "[UNK_BYTE_0x";
      for (std::size_t i = 0; i < d.len; ++i) {
        const auto c = static_cast<unsigned char>(text[pos + i]);
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
      out.append(text);
      out += "]";
    }
    pos += d.len;
  }
  return out;
}

// "<0x0A>" -> "\n"; anything else -> "".
std::string decode_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return {};
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(text[3]), lo = hex(text[4]);
  if (hi < 0 || lo < 0) return {};
  return std::string(1, char(hi * 16 + lo));
}

std::string alphabet_spelling(std::uint8_t b) {
  std::string s;
  append_utf8(s, byte_alphabet_codepoint(b));
  return s;
}


}  // namespace

std::int32_t BpeTokenizer::intern(std::string_view s) {
  const std::int32_t id = pieces_.insert(s, num_pieces_);
  if (id == num_pieces_) ++num_pieces_;
  return id;
}

Expected<BpeTokenizer> BpeTokenizer::from_vocab(Vocab v) {
  const std::size_t n = v.tokens.size();
  if (n == 0) return invalid("the vocabulary is empty");
  if (n > std::size_t(INT32_MAX) / 2) return invalid("the vocabulary has too many tokens");
  if (!v.types.empty() && v.types.size() != n)
    return invalid("token types: " + std::to_string(v.types.size()) + " entries for " + std::to_string(n) + " tokens");
  for (auto [id, name] : {std::pair{&v.bos, "BOS"}, {&v.eos, "EOS"}, {&v.eot, "EOT"}, {&v.eom, "EOM"}}) {
    if (*id && (**id < 0 || std::size_t(**id) >= n))
      return invalid(std::string(name) + " id " + std::to_string(**id) + " is outside the vocabulary of " + std::to_string(n) + " tokens");
  }
  if (v.add_bos && !v.bos) return invalid("add_bos_token is set but there is no BOS id");
  if (v.add_eos && !v.eos) return invalid("add_eos_token is set but there is no EOS id");

  BpeTokenizer t;
  t.tokens_ = std::move(v.tokens);
  t.types_ = v.types.empty() ? std::vector<TokenType>(n, TokenType::kNormal) : std::move(v.types);
  t.pre_ = v.pre;
  t.ignore_merges_ = v.pre == PreTokenizer::kLlama3;
  t.bos_ = v.bos, t.eos_ = v.eos, t.eot_ = v.eot, t.eom_ = v.eom;
  t.add_bos_ = v.add_bos, t.add_eos_ = v.add_eos;
  t.pieces_.reserve(n + v.merges.size() / 4);
  for (std::size_t i = 0; i < n; ++i) t.pieces_.assign(t.tokens_[i], std::int32_t(i));  // a repeated text: the last id
  t.num_pieces_ = std::int32_t(n);

  // End-of-turn tokens, found by their text as llama.cpp does.
  std::vector<TokenId> eog;
  const auto end_of_turn = [&](std::string_view text) -> std::optional<TokenId> {
    auto id = t.find(text);
    if (id) t.types_[std::size_t(*id)] = TokenType::kControl;
    return id;
  };
  // A token spelled as one of special_tokens.h's end-of-turn texts is made a control token and
  // ends generation.
  for (std::string_view text : end_of_turn_texts()) {
    if (auto id = end_of_turn(text)) {
      if (!t.eot_) t.eot_ = id;
      eog.push_back(*id);
    }
  }
  for (std::string_view text : end_of_generation_texts()) {
    if (auto id = end_of_turn(text)) eog.push_back(*id);
  }
  if (!t.eom_) t.eom_ = t.find("<|eom_id|>");
  for (const auto& id : {t.eos_, t.eot_, t.eom_})
    if (id) eog.push_back(*id);
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  t.eog_ = std::move(eog);

  // Special tokens, for llama.cpp's partition of the text.
  std::vector<SpecialTokens::Token> specials;
  for (std::size_t i = 0; i < n; ++i) {
    const TokenType type = t.types_[i];
    if (type == TokenType::kControl || type == TokenType::kUserDefined || type == TokenType::kUnknown)
      specials.push_back({TokenId(i), t.tokens_[i], type == TokenType::kUserDefined});
  }
  t.special_ = SpecialTokens(std::move(specials));

  t.merges_.reserve(v.merges.size());
  std::string joined;
  for (std::size_t rank = 0; rank < v.merges.size(); ++rank) {
    const std::string_view m = v.merges[rank];
    const std::size_t space = m.find(' ', 1);
    if (space == std::string::npos) return invalid("merge " + std::to_string(rank) + " ('" + std::string(m) + "') has no space between its two sides");
    const std::string_view left = m.substr(0, space), right = m.substr(space + 1);
    joined.assign(left).append(right);
    const std::int32_t l = t.intern(left), r = t.intern(right), result = t.intern(joined);
    t.merges_.insert(l, r, {std::int32_t(rank), result});  // a repeated pair: the first rank
  }
  for (int b = 0; b < 256; ++b) {
    t.byte_piece_[b] = t.pieces_.find(alphabet_spelling(std::uint8_t(b))).value_or(-1);
  }

  t.decoded_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (t.types_[i]) {
      case TokenType::kNormal: t.decoded_[i] = decode_alphabet(t.tokens_[i]); break;
      case TokenType::kUserDefined: t.decoded_[i] = t.tokens_[i]; break;
      case TokenType::kByte: t.decoded_[i] = decode_byte_token(t.tokens_[i]); break;
      case TokenType::kControl: case TokenType::kUnknown: case TokenType::kUnused: break;
    }
  }
  return t;
}

std::optional<TokenId> BpeTokenizer::find(std::string_view text) const {
  const auto id = pieces_.find(text);
  if (!id || *id >= vocab_size()) return std::nullopt;
  return TokenId(*id);
}

bool BpeTokenizer::is_end_of_generation(TokenId id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const std::vector<SpecialTokens::Fragment> fragments = special_.split(text, parse_special);
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 2);
  if (add_special && add_bos_) out.push_back(*bos_);
  for (const SpecialTokens::Fragment& f : fragments) {
    if (f.token) {
      out.push_back(*f.token);
    } else {
      encode_fragment(f.text, out);
    }
  }
  if (add_special && add_eos_) out.push_back(*eos_);
  return out;
}

void BpeTokenizer::encode_fragment(std::string_view text, std::vector<TokenId>& out) const {
  std::vector<std::string_view> words;
  pretokenize(pre_, text, words);
  for (std::string_view w : words) encode_word(w, out);
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  if (ignore_merges_) {
    std::string spelled;
    for (char c : word) append_utf8(spelled, byte_alphabet_codepoint(std::uint8_t(c)));
    if (auto id = find(spelled)) {
      out.push_back(*id);
      return;
    }
  }
  // One symbol per byte, linked in a list; merged symbols keep the left one's slot.
  struct Symbol {
    std::int32_t piece;
    std::int32_t prev, next;  // -1: none
    std::uint32_t begin, end; // bytes of `word`
  };
  std::vector<Symbol> sym(word.size());
  for (std::size_t i = 0; i < word.size(); ++i)
    sym[i] = {byte_piece_[std::uint8_t(word[i])], std::int32_t(i) - 1,
              i + 1 < word.size() ? std::int32_t(i + 1) : -1, std::uint32_t(i), std::uint32_t(i + 1)};

  struct Candidate {
    std::int32_t rank, left, right, left_piece, right_piece;
  };
  // Lowest rank first, then leftmost (llama.cpp's llm_bigram_bpe::comparator).
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  const auto consider = [&](std::int32_t left, std::int32_t right) {
    if (left < 0 || right < 0 || sym[left].piece < 0 || sym[right].piece < 0) return;
    if (const MergeTable::Merge* m = merges_.find(sym[left].piece, sym[right].piece))
      queue.push({m->rank, left, right, sym[left].piece, sym[right].piece});
  };
  for (std::int32_t i = 0; i + 1 < std::int32_t(sym.size()); ++i) consider(i, i + 1);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& l = sym[c.left];
    Symbol& r = sym[c.right];
    // Stale: either side merged since (a merged-away symbol has begin == end).
    if (l.begin == l.end || r.begin == r.end || l.piece != c.left_piece || r.piece != c.right_piece || l.next != c.right) continue;
    l.piece = merges_.find(c.left_piece, c.right_piece)->result;
    l.end = r.end;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.left;
    r.begin = r.end;
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }
  for (std::int32_t i = 0; i >= 0 && !sym.empty(); i = sym[i].next) {
    const Symbol& s = sym[i];
    if (s.piece >= 0 && s.piece < vocab_size()) {
      out.push_back(TokenId(s.piece));
      continue;
    }
    // Not a token (a merge that is no token, or a byte the alphabet has no token for): llama.cpp
    // then looks up each byte of the spelling as a one-byte token, and drops those that are none.
    std::string spelled;
    for (std::uint32_t b = s.begin; b < s.end; ++b) append_utf8(spelled, byte_alphabet_codepoint(std::uint8_t(word[b])));
    for (char c : spelled)
      if (auto id = find(std::string_view(&c, 1))) out.push_back(*id);
  }
}

std::string_view BpeTokenizer::decode_piece(TokenId id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return decoded_[std::size_t(id)];
}

std::string_view BpeTokenizer::decode_piece(TokenId /*prev*/, TokenId id) const { return decode_piece(id); }

std::string BpeTokenizer::decode(std::span<const TokenId> tokens) const {
  std::string bytes;
  for (TokenId id : tokens) bytes += decode_piece(id);
  return sanitize_utf8(bytes);
}

}  // namespace ladle::model
