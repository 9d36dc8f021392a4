// Tokenizer: loading tokenizer.bin, run.c-exact BPE encode in O(n log n), run.c decode.
#include "model/tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <queue>

#include "model/utf8.h"

namespace ladle::model {
namespace {

// Every byte value once, so that decode_piece can return a one-byte view for "<0xXX>".
constexpr std::array<char, 256> make_byte_table() {
  std::array<char, 256> t{};
  for (int i = 0; i < 256; ++i) t[static_cast<std::size_t>(i)] = static_cast<char>(i);
  return t;
}
constexpr std::array<char, 256> kByteTable = make_byte_table();

// run.c's threshold: best_score starts at -1e10 and a merge must beat it strictly.
constexpr float kNoMergeScore = -1e10f;

std::optional<int> hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

// run.c's sscanf(piece, "<0x%02hhX>", &byte): "<0x" then one or two hex digits.
std::optional<unsigned char> parse_byte_piece(std::string_view p) {
  if (p.size() < 4 || p.substr(0, 3) != "<0x") return std::nullopt;
  const std::optional<int> hi = hex_value(p[3]);
  if (!hi) return std::nullopt;
  const std::optional<int> lo = p.size() > 4 ? hex_value(p[4]) : std::nullopt;
  return static_cast<unsigned char>(lo ? *hi * 16 + *lo : *hi);
}

std::uint64_t pair_key(TokenId a, TokenId b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

template <class T>
bool read_pod(std::istream& in, T& v) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&v), sizeof(T)));
}

}  // namespace

Tokenizer::Tokenizer(std::vector<std::string> pieces, std::vector<float> scores, int max_token_length,
                     std::vector<Vocab::Kind> kinds)
    : pieces_(std::move(pieces)), scores_(std::move(scores)), kinds_(std::move(kinds)), max_token_length_(max_token_length) {
  for (int b = 0; b < 256; ++b) byte_tokens_[static_cast<std::size_t>(b)] = kFirstByteToken + b;  // run.c's "+3"
  index_.reserve(pieces_.size());
  // NOTE(tok): run.c bsearch()es a sorted copy; with duplicate pieces which id it finds is
  // unspecified. Real tokenizers have none; we keep the lowest id. Special pieces are left out, so
  // they are neither found in text nor the result of a merge.
  for (std::size_t i = 0; i < pieces_.size(); ++i)
    if (kinds_.empty() || kinds_[i] == Vocab::kNormal) index_.emplace(pieces_[i], static_cast<TokenId>(i));
  merges_.reserve(pieces_.size() * 2);
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    const auto id = static_cast<TokenId>(i);
    const std::string_view text = pieces_[i];
    // run.c only merges when the score beats its -1e10 starting point; duplicates map to one id.
    if (!(scores_[i] > kNoMergeScore) || find(text) != id) continue;
    for (std::size_t k = 1; k < text.size(); ++k) {
      const auto left = find(text.substr(0, k));
      if (!left) continue;
      if (const auto right = find(text.substr(k))) merges_.emplace(pair_key(*left, *right), id);
    }
  }
}

std::optional<TokenId> Tokenizer::find_merge(TokenId a, TokenId b) const {
  const auto it = merges_.find(pair_key(a, b));
  if (it == merges_.end()) return std::nullopt;
  return it->second;
}

Expected<Tokenizer> Tokenizer::load(const std::string& path, int vocab_size) {
  const std::string where = "tokenizer " + path + ": ";
  if (vocab_size < kMinVocabSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      where + "vocab_size " + std::to_string(vocab_size) + " is below " +
                          std::to_string(kMinVocabSize) + " (3 specials + 256 byte pieces)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, where + "cannot open file");
  std::int32_t max_len = 0;
  if (!read_pod(in, max_len)) return make_error(ErrorCode::kInvalidArgument, where + "truncated header");
  if (max_len <= 0 || max_len > (1 << 16)) {
    return make_error(ErrorCode::kInvalidArgument,
                      where + "corrupt header: max_token_length " + std::to_string(max_len));
  }
  std::vector<std::string> pieces;
  std::vector<float> scores;
  pieces.reserve(static_cast<std::size_t>(vocab_size));
  scores.reserve(static_cast<std::size_t>(vocab_size));
  for (;;) {
    float score = 0;
    if (!read_pod(in, score)) {
      if (in.gcount() == 0) break;  // clean end of file
      return make_error(ErrorCode::kInvalidArgument,
                        where + "truncated inside entry " + std::to_string(pieces.size()));
    }
    const std::string entry = "entry " + std::to_string(pieces.size());
    std::int32_t len = 0;
    if (!read_pod(in, len)) return make_error(ErrorCode::kInvalidArgument, where + "truncated inside " + entry);
    if (len < 0 || len > max_len) {
      return make_error(ErrorCode::kInvalidArgument,
                        where + "corrupt " + entry + ": length " + std::to_string(len) +
                            " outside [0, max_token_length=" + std::to_string(max_len) + "]");
    }
    std::string bytes(static_cast<std::size_t>(len), '\0');
    if (len > 0 && !in.read(bytes.data(), len)) {
      return make_error(ErrorCode::kInvalidArgument, where + "truncated inside " + entry);
    }
    pieces.push_back(std::move(bytes));
    scores.push_back(score);
    if (pieces.size() > static_cast<std::size_t>(vocab_size)) break;  // reported below
  }
  const auto want = static_cast<std::size_t>(vocab_size);
  if (pieces.size() < want) {
    return make_error(ErrorCode::kInvalidArgument,
                      where + "truncated or wrong vocabulary: ends after " + std::to_string(pieces.size()) +
                          " entries but the model's vocab_size is " + std::to_string(vocab_size));
  }
  if (pieces.size() > want) {
    return make_error(ErrorCode::kInvalidArgument, where + "holds more than " + std::to_string(vocab_size) +
                                                       " entries but the model's vocab_size is " +
                                                       std::to_string(vocab_size));
  }
  return Tokenizer(std::move(pieces), std::move(scores), max_len);
}

Expected<Tokenizer> Tokenizer::from_vocab(Vocab v) {
  auto bad = [](const std::string& what) { return make_error(ErrorCode::kInvalidArgument, "tokenizer: " + what); };
  const std::size_t n = v.pieces.size();
  if (v.scores.size() != n || v.kinds.size() != n)
    return bad(std::to_string(n) + " pieces but " + std::to_string(v.scores.size()) + " scores and " +
               std::to_string(v.kinds.size()) + " token types");
  if (n > std::size_t(1) << 22) return bad("vocabulary of " + std::to_string(n) + " pieces is implausibly large");
  for (TokenId id : {v.bos, v.eos})
    if (id < 0 || std::size_t(id) >= n) return bad("BOS/EOS id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(n));
  // SentencePiece's byte pieces, "<0xXX>": the first of each byte wins.
  std::array<std::optional<TokenId>, 256> bytes{};
  std::size_t longest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& p = v.pieces[i];
    longest = std::max(longest, p.size());
    const auto byte = p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' ? parse_byte_piece(p) : std::nullopt;
    if (byte && !bytes[*byte]) bytes[*byte] = static_cast<TokenId>(i);
  }
  for (int b = 0; b < 256; ++b)
    if (!bytes[static_cast<std::size_t>(b)]) {
      char piece[8];
      std::snprintf(piece, sizeof piece, "<0x%02X>", b);
      return bad(std::string("the vocabulary has no byte piece ") + piece + " (byte fallback needs all 256)");
    }
  Tokenizer t(std::move(v.pieces), std::move(v.scores), int(longest), std::move(v.kinds));
  for (std::size_t b = 0; b < 256; ++b) t.byte_tokens_[b] = *bytes[b];
  t.bos_ = v.bos;
  t.eos_ = v.eos;
  t.add_dummy_prefix_ = v.add_dummy_prefix;
  return t;
}

std::optional<TokenId> Tokenizer::find(std::string_view text) const {
  const auto it = index_.find(text);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

void Tokenizer::split_codepoints(std::string_view text, std::vector<TokenId>& out) const {
  // run.c: a codepoint is a non-continuation byte plus up to 3 following continuation bytes;
  // stray continuation bytes and overlong runs are looked up as they come.
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = 1;
    while (n < 4 && i + n < text.size() && is_continuation(text[i + n])) ++n;
    const std::string_view cp = text.substr(i, n);
    const std::optional<TokenId> id = cp.find('\0') == std::string_view::npos ? find(cp) : std::nullopt;
    if (id) {
      out.push_back(*id);
    } else {
      for (char c : cp) out.push_back(byte_tokens_[static_cast<unsigned char>(c)]);
    }
    i += n;
  }
}

void Tokenizer::merge(std::vector<TokenId>& tokens) const {
  // Symbol i holds tokens[i]; prev/next link the symbols still alive (kNone at the ends).
  constexpr int kNone = -1;
  const int n = static_cast<int>(tokens.size());
  if (n < 2) return;
  std::vector<int> prev(static_cast<std::size_t>(n)), next(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    prev[static_cast<std::size_t>(i)] = i - 1;
    next[static_cast<std::size_t>(i)] = i + 1 < n ? i + 1 : kNone;
  }
  struct Candidate {
    float score;
    int left;  // symbol index; symbols keep their order, so a lower index is further left
    TokenId left_token, right_token, merged;
    int right;
    bool operator<(const Candidate& o) const {  // max-heap: higher score, then leftmost
      if (score != o.score) return score < o.score;
      return left > o.left;
    }
  };
  std::vector<Candidate> storage;
  storage.reserve(static_cast<std::size_t>(2 * n));
  std::priority_queue<Candidate> heap(std::less<Candidate>{}, std::move(storage));
  auto consider = [&](int left, int right) {
    if (left == kNone || right == kNone) return;
    const TokenId a = tokens[static_cast<std::size_t>(left)], b = tokens[static_cast<std::size_t>(right)];
    const auto id = find_merge(a, b);
    if (id) heap.push(Candidate{scores_[static_cast<std::size_t>(*id)], left, a, b, *id, right});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i, i + 1);
  std::vector<bool> alive(static_cast<std::size_t>(n), true);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const auto l = static_cast<std::size_t>(c.left), r = static_cast<std::size_t>(c.right);
    // A candidate depends only on its two tokens: it is current iff both symbols are alive, still
    // adjacent and still hold those tokens. Anything else is a stale entry left in the heap.
    if (!alive[l] || !alive[r] || next[l] != c.right || tokens[l] != c.left_token || tokens[r] != c.right_token) {
      continue;
    }
    tokens[l] = c.merged;
    alive[r] = false;
    next[l] = next[r];
    if (next[r] != kNone) prev[static_cast<std::size_t>(next[r])] = c.left;
    consider(prev[l], c.left);
    consider(c.left, next[l]);
  }
  std::size_t out = 0;
  for (int i = 0; i != kNone; i = next[static_cast<std::size_t>(i)]) tokens[out++] = tokens[static_cast<std::size_t>(i)];
  tokens.resize(out);
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  std::vector<TokenId> tokens;
  tokens.reserve(text.size() + 3);
  if (bos) tokens.push_back(bos_);
  if (!text.empty() && add_dummy_prefix_) {
    // SentencePiece's add_dummy_prefix, as run.c does it: a separate " " symbol that merges.
    // A vocabulary without " " (run.c would push id -1) gets no dummy prefix.
    if (const auto space = find(" ")) tokens.push_back(*space);
  }
  split_codepoints(text, tokens);
  merge(tokens);
  if (eos) tokens.push_back(eos_);
  return tokens;
}

std::string_view Tokenizer::decode_piece(TokenId prev, TokenId id) const {
  if (id < 0 || id >= vocab_size()) return {};
  if (!kinds_.empty() && kinds_[static_cast<std::size_t>(id)] == Vocab::kControl) return {};
  std::string_view p = pieces_[static_cast<std::size_t>(id)];
  if (prev == bos_ && !p.empty() && p.front() == ' ') p.remove_prefix(1);
  if (const auto byte = parse_byte_piece(p)) return {&kByteTable[*byte], 1};
  return p;
}

std::string Tokenizer::decode(std::span<const TokenId> tokens, TokenId prev) const {
  std::string raw;
  for (TokenId id : tokens) {
    raw.append(decode_piece(prev, id));
    prev = id;
  }
  return sanitize_utf8(raw);
}

}  // namespace ladle::model
