// AnyTokenizer: the tokenizer of a model, whichever kind its file carries — SentencePiece
// (model/tokenizer.h: llama2.c's tokenizer.bin, or a GGUF with tokenizer.ggml.model "llama") or
// byte-level BPE (model/bpe_tokenizer.h: "gpt2") — behind the few calls the engine, the streaming
// text assembly and the tools make. A variant, not a virtual base: two concrete kinds, dispatched
// in one place.
//
// Ownership: an immutable value built once at load and shared by const reference. Thread-safety:
// every method is const.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kvcache/expected.h"
#include "kvcache/ids.h"
#include "model/bpe_tokenizer.h"
#include "model/gguf_file.h"
#include "model/special_tokens.h"
#include "model/tokenizer.h"

namespace ladle::model {

// What a GGUF says of a SentencePiece vocabulary beyond its pieces (a tokenizer.bin: the defaults,
// run.c's BOS first and EOS ending generation).
struct SentencePieceOptions {
  bool add_bos = true, add_eos = false;  // tokenizer.ggml.add_bos_token / add_eos_token
  // Sorted ids that end generation (EOS, tokenizer.ggml.eot/eom_token_id, control tokens spelled
  // as special_tokens.h's end-of-turn texts); empty: EOS alone.
  std::vector<TokenId> end_of_generation;
};

class AnyTokenizer {
 public:
  // A SentencePiece tokenizer with, for a GGUF vocabulary, its control, unknown and user-defined
  // tokens (a tokenizer.bin has none: the text is never cut).
  AnyTokenizer(Tokenizer t, SpecialTokens specials = {}, SentencePieceOptions options = {})  // NOLINT
      : impl_(std::move(t)), specials_(std::move(specials)), sp_(std::move(options)) {}
  AnyTokenizer(BpeTokenizer t) : impl_(std::move(t)) {}  // NOLINT: implicit by design

  // Text → ids. add_special: BOS (and EOS) as the vocabulary says (a tokenizer.bin: BOS).
  // parse_special: control tokens spelled in the text become their ids (user-defined ones always
  // do); SentencePiece then encodes each piece of text between them with its dummy-prefix space,
  // as llama.cpp does.
  std::vector<TokenId> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes `id` contributes after `prev` (may be part of a UTF-8 character; TextStream and
  // model/utf8.h assemble them); "" for control tokens and ids out of range.
  std::string_view decode_piece(TokenId prev, TokenId id) const;
  // decode_piece() over `tokens` as valid UTF-8, the first one's predecessor being `prev`
  // (SentencePiece strips a leading space after BOS).
  std::string decode(std::span<const TokenId> tokens, std::optional<TokenId> prev = std::nullopt) const;

  int vocab_size() const;
  std::optional<TokenId> bos() const;
  std::optional<TokenId> eos() const;
  // Whether encode(..., add_special = true, ...) puts BOS first.
  bool add_bos() const;
  // Whether it puts EOS last.
  bool add_eos() const;
  // Whether generating `id` ends the turn: EOS, and the end-of-turn tokens.
  bool is_end_of_generation(TokenId id) const;
  // The ids is_end_of_generation() holds for, ascending.
  std::vector<TokenId> end_of_generation() const;
  // The text a chat template knows token `id` by (its bos_token / eos_token): a special token's
  // spelling ("<|begin_of_text|>", "<s>"), a normal one's decoded bytes; "" out of range. As
  // llama.cpp's token_to_piece with `special`.
  std::string token_text(TokenId id) const;
  // "llama" (SentencePiece) or "gpt2" (byte-level BPE), as tokenizer.ggml.model spells them.
  const char* kind() const;

  const Tokenizer* sentencepiece() const { return std::get_if<Tokenizer>(&impl_); }
  const BpeTokenizer* bpe() const { return std::get_if<BpeTokenizer>(&impl_); }

 private:
  std::variant<Tokenizer, BpeTokenizer> impl_;
  SpecialTokens specials_;  // SentencePiece only (BpeTokenizer keeps its own)
  SentencePieceOptions sp_;  // SentencePiece only
};

// The tokenizer a GGUF file carries, by tokenizer.ggml.model: "llama" (gguf_tokenizer.h, with the
// vocabulary's own size, and its special tokens from tokenizer.ggml.token_type) or "gpt2"; any
// other kind is refused by name. Vocabulary-only files (no
// tensors) are fine.
Expected<AnyTokenizer> load_gguf_tokenizer(const GgufFile& file);

}  // namespace ladle::model
