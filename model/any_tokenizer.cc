// AnyTokenizer: dispatch to the SentencePiece or byte-level BPE tokenizer (see any_tokenizer.h).
#include "model/any_tokenizer.h"

#include <algorithm>

#include "model/gguf_tokenizer.h"
#include "model/utf8.h"

namespace ladle::model {

std::vector<TokenId> AnyTokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  if (const auto* b = bpe()) return b->encode(text, add_special, parse_special);
  const Tokenizer& sp = *sentencepiece();
  if (specials_.empty()) return sp.encode(text, add_special && sp_.add_bos, add_special && sp_.add_eos);
  std::vector<TokenId> out;
  if (add_special && sp_.add_bos) out.push_back(sp.bos());
  for (const SpecialTokens::Fragment& f : specials_.split(text, parse_special)) {
    if (f.token) {
      out.push_back(*f.token);
    } else {
      const std::vector<TokenId> ids = sp.encode(f.text, false, false);
      out.insert(out.end(), ids.begin(), ids.end());
    }
  }
  if (add_special && sp_.add_eos) out.push_back(sp.eos());
  return out;
}

std::string_view AnyTokenizer::decode_piece(TokenId prev, TokenId id) const {
  if (const auto* b = bpe()) return b->decode_piece(id);
  const Tokenizer& t = *sentencepiece();
  if (id < 0 || id >= t.vocab_size()) return {};
  return t.decode_piece(prev, id);
}

std::string AnyTokenizer::decode(std::span<const TokenId> tokens, std::optional<TokenId> prev) const {
  if (const auto* b = bpe()) return b->decode(tokens);
  std::string bytes;
  TokenId p = prev.value_or(-1);
  for (TokenId id : tokens) {
    bytes += decode_piece(p, id);
    p = id;
  }
  return sanitize_utf8(bytes);
}

int AnyTokenizer::vocab_size() const {
  return std::visit([](const auto& t) { return t.vocab_size(); }, impl_);
}

std::optional<TokenId> AnyTokenizer::bos() const {
  if (const auto* b = bpe()) return b->bos();
  return sentencepiece()->bos();
}

std::optional<TokenId> AnyTokenizer::eos() const {
  if (const auto* b = bpe()) return b->eos();
  return sentencepiece()->eos();
}

bool AnyTokenizer::add_bos() const {
  if (const auto* b = bpe()) return b->add_bos();
  return sp_.add_bos;
}

bool AnyTokenizer::add_eos() const {
  if (const auto* b = bpe()) return b->add_eos();
  return sp_.add_eos;
}

bool AnyTokenizer::is_end_of_generation(TokenId id) const {
  if (const auto* b = bpe()) return b->is_end_of_generation(id);
  if (sp_.end_of_generation.empty()) return id == sentencepiece()->eos();
  return std::binary_search(sp_.end_of_generation.begin(), sp_.end_of_generation.end(), id);
}

std::vector<TokenId> AnyTokenizer::end_of_generation() const {
  if (const auto* b = bpe()) return b->end_of_generation();
  if (sp_.end_of_generation.empty()) return {sentencepiece()->eos()};
  return sp_.end_of_generation;
}

std::string AnyTokenizer::token_text(TokenId id) const {
  if (id < 0 || id >= vocab_size()) return {};
  if (const auto* b = bpe()) {
    const auto type = b->token_type(id);
    if (type == BpeTokenizer::TokenType::kControl || type == BpeTokenizer::TokenType::kUnknown) return b->token_text(id);
    return std::string(b->decode_piece(id));
  }
  return sentencepiece()->piece(id);  // spaces as " " (the "▁" was undone at load)
}

const char* AnyTokenizer::kind() const { return bpe() ? "gpt2" : "llama"; }

namespace {

// A GGUF SentencePiece vocabulary's flags and end-of-generation set, as llama.cpp reads them:
// add_bos_token (default true), add_eos_token (default false); EOS, eot/eom_token_id, and the
// control tokens spelled as an end-of-turn text (Gemma's <end_of_turn>, Phi-3's <|end|>).
Expected<SentencePieceOptions> sentencepiece_options(const GgufFile& f, const Tokenizer& t,
                                                                   const std::vector<SpecialTokens::Token>& specials) {
  SentencePieceOptions o;
  for (auto [key, out] : {std::pair{"tokenizer.ggml.add_bos_token", &o.add_bos}, std::pair{"tokenizer.ggml.add_eos_token", &o.add_eos}}) {
    if (f.find(key) == nullptr) continue;
    auto v = f.get_bool(key);
    if (!v) return v.error();
    *out = *v;
  }
  std::vector<TokenId> eog = {t.eos()};
  for (const char* key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (f.find(key) == nullptr) continue;
    auto id = f.get_uint(key);
    if (!id) return id.error();
    if (*id >= std::uint64_t(t.vocab_size()))
      return make_error(ErrorCode::kInvalidArgument, "gguf " + f.name() + ": " + key + " is " + std::to_string(*id) +
                                                         ", outside the vocabulary");
    eog.push_back(TokenId(*id));
  }
  for (const SpecialTokens::Token& s : specials) {
    if (s.always) continue;  // user-defined tokens are text; control ones may end a turn
    for (auto texts : {end_of_turn_texts(), end_of_generation_texts()})
      if (std::find(texts.begin(), texts.end(), s.text) != texts.end()) eog.push_back(s.id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  o.end_of_generation = std::move(eog);
  return o;
}

}  // namespace

Expected<AnyTokenizer> load_gguf_tokenizer(const GgufFile& f) {
  auto kind = f.get_string("tokenizer.ggml.model");
  if (!kind) return kind.error();
  if (*kind == "gpt2") {
    auto t = BpeTokenizer::from_gguf(f);
    if (!t) return t.error();
    return AnyTokenizer(std::move(*t));
  }
  if (*kind == "llama") {
    const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
    if (tokens == nullptr) return make_error(ErrorCode::kInvalidArgument, "gguf " + f.name() + ": metadata key 'tokenizer.ggml.tokens' is missing");
    if (tokens->count > std::uint64_t(INT32_MAX))
      return make_error(ErrorCode::kInvalidArgument, "gguf " + f.name() + ": tokenizer.ggml.tokens has too many entries");
    auto t = llama_sentencepiece_tokenizer(f, int(tokens->count));
    if (!t) return t.error();
    // llama.cpp's token types: 2 unknown, 3 control, 4 user-defined (the reader checked the array).
    std::vector<SpecialTokens::Token> specials;
    if (const GgufValue* types = f.find("tokenizer.ggml.token_type")) {
      for (std::uint64_t i = 0; i < tokens->count && i < types->count; ++i) {
        const auto type = types->number(i).value_or(1);
        if (type == 2 || type == 3 || type == 4) specials.push_back({TokenId(i), std::string(tokens->strings[i]), type == 4});
      }
    }
    auto options = sentencepiece_options(f, *t, specials);
    if (!options) return options.error();
    return AnyTokenizer(std::move(*t), SpecialTokens(std::move(specials)), std::move(*options));
  }
  return make_error(ErrorCode::kInvalidArgument, "gguf " + f.name() + ": tokenizer.ggml.model '" + std::string(*kind) +
                                                     "' is not supported: ladle reads 'llama' (SentencePiece) and 'gpt2' (byte-level BPE)");
}

}  // namespace ladle::model
