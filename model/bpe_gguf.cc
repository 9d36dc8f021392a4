// BpeTokenizer::from_gguf: tokenizer.ggml.* of a "gpt2" vocabulary -> BpeTokenizer.
#include <string>
#include <tuple>

#include "model/bpe_tokenizer.h"

namespace ladle::model {
namespace {

Error refuse(const GgufFile& f, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "gguf " + f.name() + ": " + what);
}

// A string array key; nullptr when absent.
Expected<const GgufValue*> string_array(const GgufFile& f, const std::string& key, bool required) {
  const GgufValue* v = f.find(key);
  if (v == nullptr) {
    if (required) return refuse(f, "metadata key '" + key + "' is missing");
    return v;
  }
  if (!v->is_array() || v->element_type != std::uint32_t(GgufValueType::kString))
    return refuse(f, "metadata key '" + key + "' is a " + v->type_name() + ", not an array of string");
  return v;
}

// An optional token id key: absent -> `fallback`.
Expected<std::optional<TokenId>> token_id(const GgufFile& f, const std::string& key, std::optional<TokenId> fallback) {
  if (f.find(key) == nullptr) return fallback;
  auto id = f.get_uint(key, INT32_MAX);
  if (!id) return id.error();
  return std::optional<TokenId>(TokenId(*id));
}

Expected<bool> flag(const GgufFile& f, std::string_view key, bool fallback) {
  if (f.find(key) == nullptr) return fallback;
  return f.get_bool(key);
}

}  // namespace

Expected<BpeTokenizer> BpeTokenizer::from_gguf(const GgufFile& f) {
  auto model = f.get_string("tokenizer.ggml.model");
  if (!model) return model.error();
  if (*model != "gpt2") return refuse(f, "tokenizer.ggml.model is '" + std::string(*model) + "', not byte-level BPE ('gpt2')");
  if (f.find("tokenizer.ggml.pre") == nullptr)
    return refuse(f, "tokenizer.ggml.pre is missing: ladle needs the pre-tokenizer named (llama-bpe, qwen2, gpt-2 or default)");
  auto pre_name = f.get_string("tokenizer.ggml.pre");
  if (!pre_name) return pre_name.error();
  auto pre = pretokenizer_from_name(*pre_name);
  if (!pre)
    return refuse(f, "unknown pre-tokenizer tokenizer.ggml.pre = '" + std::string(*pre_name) +
                         "' (ladle knows llama-bpe, qwen2, gpt-2 and default)");

  Vocab v;
  v.pre = *pre;
  auto tokens = string_array(f, "tokenizer.ggml.tokens", true);
  if (!tokens) return tokens.error();
  const std::size_t n = (*tokens)->strings.size();
  v.tokens.reserve(n);
  for (std::string_view s : (*tokens)->strings) v.tokens.emplace_back(s);

  if (const GgufValue* types = f.find("tokenizer.ggml.token_type")) {
    if (!types->is_array() || (types->element_type != std::uint32_t(GgufValueType::kInt32) &&
                               types->element_type != std::uint32_t(GgufValueType::kUint32)))
      return refuse(f, "metadata key 'tokenizer.ggml.token_type' is a " + types->type_name() + ", not an array of i32");
    if (types->count < n)
      return refuse(f, "tokenizer.ggml.token_type has " + std::to_string(types->count) + " entries for " + std::to_string(n) + " tokens");
    v.types.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double type = *types->number(i);
      switch (type >= 1 && type <= 6 ? static_cast<int>(type) : 0) {
        case 1: v.types.push_back(TokenType::kNormal); break;
        case 2: v.types.push_back(TokenType::kUnknown); break;
        case 3: v.types.push_back(TokenType::kControl); break;
        case 4: v.types.push_back(TokenType::kUserDefined); break;
        case 6: v.types.push_back(TokenType::kByte); break;
        default: v.types.push_back(TokenType::kUnused); break;  // 5 unused, or llama.cpp's "undefined"
      }
    }
  }

  auto merges = string_array(f, "tokenizer.ggml.merges", true);
  if (!merges) return merges.error();
  v.merges.reserve((*merges)->strings.size());
  for (std::string_view s : (*merges)->strings) v.merges.emplace_back(s);

  // llama.cpp's defaults for a gpt2 vocabulary: BOS = EOS = 11 (if the vocabulary has an id 11).
  const std::optional<TokenId> eleven = n > 11 ? std::optional<TokenId>(11) : std::nullopt;
  for (auto [key, id, fallback] : {std::tuple{"tokenizer.ggml.bos_token_id", &v.bos, eleven},
                                   {"tokenizer.ggml.eos_token_id", &v.eos, eleven},
                                   {"tokenizer.ggml.eot_token_id", &v.eot, std::optional<TokenId>()},
                                   {"tokenizer.ggml.eom_token_id", &v.eom, std::optional<TokenId>()}}) {
    auto got = token_id(f, key, fallback);
    if (!got) return got.error();
    if (*got && std::size_t(**got) >= n)
      return refuse(f, std::string(key) + " = " + std::to_string(**got) + " is outside the vocabulary of " + std::to_string(n) + " tokens");
    *id = *got;
  }
  auto add_bos = flag(f, "tokenizer.ggml.add_bos_token", v.pre == PreTokenizer::kLlama3);
  if (!add_bos) return add_bos.error();
  auto add_eos = flag(f, "tokenizer.ggml.add_eos_token", false);
  if (!add_eos) return add_eos.error();
  v.add_bos = *add_bos, v.add_eos = *add_eos;

  auto tok = from_vocab(std::move(v));
  if (!tok) return refuse(f, tok.error().message);
  return tok;
}

}  // namespace ladle::model
