// gguf_tokenizer: tokenizer.ggml.* -> Tokenizer.
#include "model/gguf_tokenizer.h"

#include <string>

namespace ladle::model {
namespace {

// SentencePiece's word-boundary marker U+2581 "▁".
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";

// llama.cpp's llama_token_type (SentencePiece's piece types).
enum TokenType : int { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

Error refuse(const GgufFile& f, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "gguf " + f.name() + ": " + what);
}

std::string unescape_spaces(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (std::size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpaceMarker.size(), kSpaceMarker) == 0) {
      out.push_back(' ');
      i += kSpaceMarker.size();
    } else {
      out.push_back(piece[i++]);
    }
  }
  return out;
}

// An optional bool key with a default.
Expected<bool> flag(const GgufFile& f, std::string_view key, bool fallback) {
  if (f.find(key) == nullptr) return fallback;
  return f.get_bool(key);
}

// An array key of `count` elements whose element type is one of `types`.
Expected<const GgufValue*> array(const GgufFile& f, const std::string& key, std::uint64_t count,
                                 std::initializer_list<GgufValueType> types) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) return refuse(f, "metadata key '" + key + "' is missing");
  bool typed = false;
  for (GgufValueType t : types) typed |= v->element_type == std::uint32_t(t);
  if (!v->is_array() || !typed) return refuse(f, "metadata key '" + key + "' is a " + v->type_name() + ", not the expected array");
  if (v->count != count)
    return refuse(f, "metadata key '" + key + "' has " + std::to_string(v->count) + " entries, expected " + std::to_string(count));
  return v;
}

}  // namespace

Expected<Tokenizer> tokenizer_from_gguf(const GgufFile& f, int vocab_size) {
  auto kind = f.get_string("tokenizer.ggml.model");
  if (!kind) return kind.error();
  if (*kind == "llama") return llama_sentencepiece_tokenizer(f, vocab_size);
  return refuse(f, "tokenizer.ggml.model '" + std::string(*kind) +
                       "' is not supported: ladle reads 'llama' (SentencePiece) vocabularies");
}

Expected<Tokenizer> llama_sentencepiece_tokenizer(const GgufFile& f, int vocab_size) {
  const auto n = std::uint64_t(vocab_size);
  auto tokens = array(f, "tokenizer.ggml.tokens", n, {GgufValueType::kString});
  if (!tokens) return tokens.error();
  auto scores = array(f, "tokenizer.ggml.scores", n, {GgufValueType::kFloat32});
  if (!scores) return scores.error();
  const GgufValue* types = nullptr;
  if (f.find("tokenizer.ggml.token_type") != nullptr) {
    auto t = array(f, "tokenizer.ggml.token_type", n, {GgufValueType::kInt32, GgufValueType::kUint32});
    if (!t) return t.error();
    types = *t;
  }

  Tokenizer::Vocab v;
  v.pieces.reserve(n);
  v.scores.reserve(n);
  v.kinds.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    v.pieces.push_back(unescape_spaces((*tokens)->strings[i]));
    v.scores.push_back(float(*(*scores)->number(i)));
    const double raw = types ? *types->number(i) : double(kNormal);
    const int type = raw >= double(kNormal) && raw <= double(kByte) ? int(raw) : 0;  // 0: not a llama token type
    switch (type) {
      case kNormal: case kUserDefined: v.kinds.push_back(Tokenizer::Vocab::kNormal); break;
      case kUnknown: case kUnused: case kByte: v.kinds.push_back(Tokenizer::Vocab::kUnmatched); break;
      case kControl: v.kinds.push_back(Tokenizer::Vocab::kControl); break;
      default:
        return refuse(f, "tokenizer.ggml.token_type of token " + std::to_string(i) + " is " + std::to_string(std::int64_t(raw)) +
                             ", not a llama token type (1 to 6)");
    }
  }

  // BOS and EOS (llama.cpp's defaults 1 and 2); from_vocab refuses ids outside the vocabulary.
  for (auto [key, out] : {std::pair{"tokenizer.ggml.bos_token_id", &v.bos}, std::pair{"tokenizer.ggml.eos_token_id", &v.eos}}) {
    if (f.find(key) == nullptr) continue;
    auto id = f.get_uint(key);
    if (!id) return id.error();
    if (*id >= n) return refuse(f, std::string(key) + " is " + std::to_string(*id) + ", outside the vocabulary of " + std::to_string(n));
    *out = TokenId(*id);
  }
  auto prefix = flag(f, "tokenizer.ggml.add_space_prefix", true);
  if (!prefix) return prefix.error();
  v.add_dummy_prefix = *prefix;

  auto tok = Tokenizer::from_vocab(std::move(v));
  if (!tok) return refuse(f, tok.error().message);
  return tok;
}

}  // namespace ladle::model
