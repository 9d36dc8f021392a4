// Tokenizer: a llama2.c tokenizer.bin (SentencePiece BPE exported by llama2.c's tokenizer.py) with
// run.c's encode() and decode() semantics, token for token.
//
// Ownership: an immutable value loaded once at startup and shared (by const reference) by the
// engine and the tools. Thread-safety: every method is const and touches no mutable state, so any
// number of threads may call it concurrently.
//
// The file format is int32 max_token_length, then per token {float32 score, int32 length, bytes}.
// Ids 1 and 2 are BOS/EOS, ids 3..258 the byte-fallback pieces "<0x00>".."<0xFF>".
// A vocabulary given as arrays (a GGUF file's tokenizer.ggml.*, see gguf_tokenizer.h) builds the
// same tokenizer through from_vocab(), with its special tokens marked and its byte pieces found by
// their spelling.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kvcache/expected.h"
#include "kvcache/ids.h"

namespace ladle::model {

class Tokenizer {
 public:
  static constexpr TokenId kBos = 1;
  static constexpr TokenId kEos = 2;
  // Byte b is encoded as token kFirstByteToken + b (run.c's "+3").
  static constexpr TokenId kFirstByteToken = 3;
  static constexpr int kMinVocabSize = kFirstByteToken + 256;

  // Loads a tokenizer.bin. Refuses (with a message naming the problem) an unreadable, truncated or
  // corrupt file (negative or oversized lengths, trailing bytes), one whose entry count differs
  // from `vocab_size`, and vocabularies too small to hold the 256 byte-fallback pieces.
  static Expected<Tokenizer> load(const std::string& path, int vocab_size);

  // A SentencePiece vocabulary as arrays, one entry per id.
  struct Vocab {
    std::vector<std::string> pieces;  // as tokenizer.bin spells them: spaces as " ", not "▁"
    std::vector<float> scores;
    // Per id: kNormal pieces are matched in text; kUnmatched ones (unknown, unused) never are but
    // decode as their piece; kControl ones (BOS, EOS, ...) are never matched and decode to "".
    enum Kind : std::uint8_t { kNormal, kUnmatched, kControl };
    std::vector<Kind> kinds;
    TokenId bos = kBos;
    TokenId eos = kEos;
    bool add_dummy_prefix = true;  // SentencePiece's add_dummy_prefix (a " " before the text)
  };
  // Builds the tokenizer of `vocab`: encode() and decode_piece() behave as for a tokenizer.bin of
  // the same pieces and scores, except that non-kNormal pieces are never produced from text and
  // byte fallback uses the ids spelled "<0x00>".."<0xFF>" wherever they are. Refuses (naming the
  // problem) arrays of different lengths, a vocabulary missing one of the 256 byte pieces, and
  // BOS/EOS ids outside it.
  static Expected<Tokenizer> from_vocab(Vocab vocab);

  // Exactly run.c's encode(): optional BOS; the dummy-prefix " " when text is non-empty; each UTF-8
  // codepoint looked up, unknown ones as <0xXX> byte tokens; then the adjacent pair whose
  // concatenation is the highest-scoring vocab piece is merged (leftmost on ties) until none
  // applies; optional EOS.
  // NOTE(tok): run.c rescans all pairs per merge (quadratic). We keep a doubly-linked list of
  // symbols and a max-heap of candidate merges ordered by (score, leftmost position), invalidating
  // stale entries lazily: the same choice at every step, in O(n log n). The test keeps run.c's loop
  // as the reference. Deviations, only where run.c has undefined behaviour: a NUL byte in `text`
  // is encoded (as <0x00>) instead of ending the string, and if the vocab lacks " " there is no
  // dummy prefix.
  std::vector<TokenId> encode(std::string_view text, bool bos, bool eos) const;

  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }

  // The bytes token `id` contributes after token `prev`, as run.c's decode(): after BOS a leading
  // space is stripped; a "<0xXX>" piece becomes that single raw byte. The result may be part of a
  // UTF-8 character (byte tokens); TextStream assembles them. Views stay valid for the tokenizer's
  // lifetime. An id outside the vocabulary yields "".
  std::string_view decode_piece(TokenId prev, TokenId id) const;

  // decode_piece() chained over `tokens` (the first one's predecessor is `prev`), as valid UTF-8:
  // ill-formed byte sequences become U+FFFD (see utf8.h).
  std::string decode(std::span<const TokenId> tokens, TokenId prev = kBos) const;

  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  int max_token_length() const { return max_token_length_; }
  // Raw vocab string of `id` (with "▁" already turned into " " by the exporter). Precondition:
  // 0 <= id < vocab_size().
  const std::string& piece(TokenId id) const { return pieces_[static_cast<std::size_t>(id)]; }
  float score(TokenId id) const { return scores_[static_cast<std::size_t>(id)]; }

  // Id of the piece spelled exactly `text`, if any.
  std::optional<TokenId> find(std::string_view text) const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using PieceIndex = std::unordered_map<std::string, TokenId, StringHash, std::equal_to<>>;
  // (left id, right id) packed into 64 bits -> the id of their concatenation.
  using PairIndex = std::unordered_map<std::uint64_t, TokenId>;

  Tokenizer(std::vector<std::string> pieces, std::vector<float> scores, int max_token_length,
            std::vector<Vocab::Kind> kinds = {});
  // Appends the initial symbols of `text` (codepoints or byte fallbacks) as run.c splits them.
  void split_codepoints(std::string_view text, std::vector<TokenId>& out) const;
  // Greedy BPE merges over `tokens` in place.
  void merge(std::vector<TokenId>& tokens) const;
  // The merge of a and b: the piece spelled piece(a)+piece(b), if it exists and run.c would take it.
  std::optional<TokenId> find_merge(TokenId a, TokenId b) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<Vocab::Kind> kinds_;  // from_vocab() only; empty: every piece kNormal (tokenizer.bin)
  TokenId bos_ = kBos, eos_ = kEos;
  bool add_dummy_prefix_ = true;
  std::array<TokenId, 256> byte_tokens_{};  // byte b falls back to token byte_tokens_[b]
  PieceIndex index_;
  // NOTE(tok): run.c looks up the concatenated string of every adjacent pair. Splitting each piece
  // at every point once at load time gives the same answer as an integer-keyed lookup, without
  // building strings in the encode loop.
  PairIndex merges_;
  int max_token_length_ = 0;
};

}  // namespace ladle::model
