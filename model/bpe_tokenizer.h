// BpeTokenizer: GPT-2's byte-level BPE as a GGUF file carries it (`tokenizer.ggml.model = gpt2`:
// Llama 3, Qwen 2/2.5, GPT-2, SmolLM), encoding and decoding exactly as llama.cpp does.
//
// Encoding: special tokens are cut out of the text first (llama.cpp's "partition": control,
// user-defined and unknown tokens, longest text first; control and unknown ones only when
// parse_special); each remaining fragment is split into words by the GGUF's pre-tokenizer
// (pretokenizer.h); each word's bytes are spelled in GPT-2's byte alphabet (byte_alphabet.h) and
// merged by tokenizer.ggml.merges, lowest rank first (leftmost on ties); BOS/EOS are added as the
// file's add_bos_token/add_eos_token say when add_special.
// Decoding: a normal token is its text read back through the byte alphabet (raw bytes, possibly
// part of a UTF-8 character: TextStream assembles them); a user-defined token is its text; control
// and unknown tokens are "" (llama.cpp's token_to_piece without `special`).
//
// Ownership: an immutable value built once at load and shared by const reference. Thread-safety:
// every method is const and touches no mutable state.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"
#include "kvcache/ids.h"
#include "model/bpe_tables.h"
#include "model/gguf_file.h"
#include "model/pretokenizer.h"
#include "model/special_tokens.h"

namespace ladle::model {

class BpeTokenizer {
 public:
  // llama.cpp's token types (tokenizer.ggml.token_type).
  enum class TokenType : std::uint8_t { kNormal, kUnknown, kControl, kUserDefined, kUnused, kByte };

  struct Vocab {
    std::vector<std::string> tokens;      // in the byte alphabet ("Ġthe"), as the GGUF has them
    std::vector<TokenType> types;         // empty: all normal
    std::vector<std::string> merges;      // "left right", rank = index
    PreTokenizer pre = PreTokenizer::kGpt2;
    std::optional<TokenId> bos, eos, eot, eom;  // eot/eom: end of turn / of message, if any
    bool add_bos = false, add_eos = false;
  };

  // Builds the tokenizer of `vocab`. Refuses (kInvalidArgument, naming the problem) an empty
  // vocabulary, type arrays of another length, a merge without a space, special ids outside the
  // vocabulary, and add_bos/add_eos without a BOS/EOS id. As llama.cpp does at load, tokens whose
  // text marks an end of turn (<|eot_id|>, <|im_end|>, <|endoftext|>, ...) become control tokens
  // and end generation, with EOS, EOT and EOM.
  static Expected<BpeTokenizer> from_vocab(Vocab vocab);

  // The tokenizer of a GGUF file with tokenizer.ggml.model "gpt2" (bpe_gguf.cc): tokens,
  // token_type, merges, pre, bos/eos/eot/eom_token_id, add_bos_token/add_eos_token (defaults as
  // llama.cpp's: BOS and EOS 11 when in range, add_bos true for llama-bpe, else false). Errors
  // (kInvalidArgument) name the file and the key; an unknown or missing tokenizer.ggml.pre is
  // refused by name (llama.cpp falls back to "default" when it is missing).
  static Expected<BpeTokenizer> from_gguf(const GgufFile& file);

  // Text → ids. add_special: BOS/EOS as the file says. parse_special: control tokens spelled in
  // the text become their ids (user-defined tokens always do). Any bytes are accepted: an
  // ill-formed UTF-8 byte is pre-tokenized as U+FFFD but encoded as itself.
  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes token `id` stands for (see the header); "" for an id outside the vocabulary. `prev`
  // is unused (byte-level BPE has no leading-space rule); it keeps Tokenizer's signature. Views
  // stay valid for the tokenizer's lifetime.
  std::string_view decode_piece(TokenId prev, TokenId id) const;
  std::string_view decode_piece(TokenId id) const;

  // decode_piece() over `tokens`, as valid UTF-8 (ill-formed sequences become U+FFFD).
  std::string decode(std::span<const TokenId> tokens) const;

  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  const std::string& token_text(TokenId id) const { return tokens_[static_cast<std::size_t>(id)]; }
  TokenType token_type(TokenId id) const { return types_[static_cast<std::size_t>(id)]; }
  std::optional<TokenId> find(std::string_view text) const;

  PreTokenizer pretokenizer() const { return pre_; }
  std::optional<TokenId> bos() const { return bos_; }
  std::optional<TokenId> eos() const { return eos_; }
  std::optional<TokenId> eot() const { return eot_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  // Whether generating `id` ends the turn (EOS, EOT, EOM, and the end-of-turn texts above).
  bool is_end_of_generation(TokenId id) const;
  const std::vector<TokenId>& end_of_generation() const { return eog_; }

 private:
  BpeTokenizer() = default;
  std::int32_t intern(std::string_view s);
  // Appends the ids of one fragment of text without special tokens.
  void encode_fragment(std::string_view text, std::vector<TokenId>& out) const;
  // Appends the ids of one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<TokenId>& out) const;

  std::vector<std::string> tokens_;
  std::vector<TokenType> types_;
  std::vector<std::string> decoded_;  // per token: what decode_piece() returns
  PreTokenizer pre_ = PreTokenizer::kGpt2;
  bool ignore_merges_ = false;        // llama-bpe: a word that is a whole token is that token
  std::optional<TokenId> bos_, eos_, eot_, eom_;
  bool add_bos_ = false, add_eos_ = false;
  std::vector<TokenId> eog_;          // sorted
  SpecialTokens special_;             // cut out of the text before pre-tokenizing

  // NOTE(bpe): merges are looked up on integers, not strings. Every token text and every side of a
  // merge is a "piece" with an id (tokens keep their ids; other strings get ids past the vocab);
  // merges_ maps the pair (left piece, right piece) to its rank and result piece. A word starts as
  // one piece per byte (byte_piece_) and merges without building strings. Both tables are flat
  // (bpe_tables.h): with std::unordered_map, loading Llama 3's vocabulary spent most of its time
  // walking hash chains.
  PieceTable pieces_;                      // piece text -> piece id
  std::int32_t num_pieces_ = 0;            // tokens and the other interned strings
  MergeTable merges_;
  std::int32_t byte_piece_[256] = {};      // piece of byte b's alphabet character, or -1
};

}  // namespace ladle::model
