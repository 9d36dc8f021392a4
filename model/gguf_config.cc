// gguf_config: llama.* metadata -> ModelConfig.
#include "model/gguf_config.h"

#include <string>

namespace ladle::model {
namespace {

Error refuse(const GgufFile& f, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, "gguf " + f.name() + ": " + what);
}

// An int-valued key into `out`; with `fallback`, a missing key takes it.
Status read_int(const GgufFile& f, const std::string& key, int& out, std::optional<int> fallback = std::nullopt) {
  if (fallback && f.find(key) == nullptr) {
    out = *fallback;
    return Ok{};
  }
  if (const GgufValue* v = f.find(key); v != nullptr && v->is_array())
    return refuse(f, key + " is an array (per-layer values): ladle runs models whose layers share one value");
  auto n = f.get_uint(key, 1u << 30);
  if (!n) return n.error();
  out = int(*n);
  return Ok{};
}

}  // namespace

Expected<ModelConfig> llama_config_from_gguf(const GgufFile& f) {
  auto arch = f.get_string("general.architecture");
  if (!arch) return arch.error();
  if (*arch != "llama")
    return refuse(f, "unsupported architecture '" + std::string(*arch) + "': ladle runs general.architecture 'llama'");

  ModelConfig c;
  for (auto [key, field] : {std::pair{"llama.embedding_length", &c.dim}, std::pair{"llama.feed_forward_length", &c.hidden_dim},
                            std::pair{"llama.block_count", &c.n_layers}, std::pair{"llama.attention.head_count", &c.n_heads},
                            std::pair{"llama.context_length", &c.seq_len}})
    if (auto st = read_int(f, key, *field); !st) return st.error();
  if (auto st = read_int(f, "llama.attention.head_count_kv", c.n_kv_heads, c.n_heads); !st) return st.error();
  if (c.n_heads <= 0) return refuse(f, "llama.attention.head_count is 0");

  auto eps = f.get_float("llama.attention.layer_norm_rms_epsilon");
  if (!eps) return eps.error();
  double base = c.rope_theta;
  if (f.find("llama.rope.freq_base") != nullptr) {
    auto b = f.get_float("llama.rope.freq_base");
    if (!b) return b.error();
    base = *b;
  }
  // Checked as doubles: an f64 beyond float's range must not be converted.
  if (!(*eps > 0 && *eps < 1) || !(base > 0 && base <= 1e30))
    return refuse(f, "llama.attention.layer_norm_rms_epsilon must be in (0, 1) and llama.rope.freq_base positive");
  c.norm_eps = float(*eps);
  c.rope_theta = float(base);

  // The vocabulary is what the embedding holds; the tokenizer must then agree (gguf_tokenizer).
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return refuse(f, "tensor 'token_embd.weight' is missing");
  if (embd->n_dims != 2 || embd->ne[0] != c.dim || embd->ne[1] <= 0 || embd->ne[1] > (1 << 22))
    return refuse(f, "tensor 'token_embd.weight' has shape " + embd->shape() + ", expected [" + std::to_string(c.dim) +
                         ", vocabulary size] (llama.embedding_length " + std::to_string(c.dim) + ")");
  c.vocab_size = int(embd->ne[1]);
  if (f.find("llama.vocab_size") != nullptr) {
    auto v = f.get_uint("llama.vocab_size");
    if (!v) return v.error();
    if (*v != std::uint64_t(c.vocab_size))
      return refuse(f, "llama.vocab_size is " + std::to_string(*v) + " but token_embd.weight has " +
                           std::to_string(c.vocab_size) + " rows");
  }
  c.shared_classifier = f.find_tensor("output.weight") == nullptr;
  if (auto st = c.validate(); !st) return refuse(f, st.error().message);

  // What the transformer does not implement is refused, not approximated.
  const int head_dim = c.dim / c.n_heads;
  int rope_dims = 0, key_len = 0, value_len = 0, experts = 0;
  if (auto st = read_int(f, "llama.rope.dimension_count", rope_dims, head_dim); !st) return st.error();
  if (rope_dims != head_dim)
    return refuse(f, "llama.rope.dimension_count is " + std::to_string(rope_dims) + " but the head size is " +
                         std::to_string(head_dim) + ": ladle rotates whole heads");
  if (const GgufValue* v = f.find("llama.rope.scaling.type"); v != nullptr && v->as_string() != "none")
    return refuse(f, "llama.rope.scaling.type '" + std::string(v->as_string().value_or(v->type_name())) +
                         "': ladle has no RoPE scaling");
  if (auto st = read_int(f, "llama.attention.key_length", key_len, head_dim); !st) return st.error();
  if (auto st = read_int(f, "llama.attention.value_length", value_len, head_dim); !st) return st.error();
  if (key_len != head_dim || value_len != head_dim)
    return refuse(f, "attention key/value length " + std::to_string(key_len) + "/" + std::to_string(value_len) +
                         " differs from embedding_length / head_count = " + std::to_string(head_dim));
  if (auto st = read_int(f, "llama.expert_count", experts, 0); !st) return st.error();
  if (experts != 0) return refuse(f, "llama.expert_count is " + std::to_string(experts) + ": ladle runs dense models, not MoE");

  return c;
}

}  // namespace ladle::model
