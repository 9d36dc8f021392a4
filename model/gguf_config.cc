// gguf_config: llama.* metadata -> ModelConfig.
#include "model/gguf_config.h"

#include <string>
#include <vector>

#include "model/ggml_dequantize.h"

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

// RoPE scaling as llama.cpp reads it (llama_model::load_hparams): rope.scaling.type (default
// "linear") with rope.scaling.factor (or the older rope.scale_linear; absent or 0: no scaling), or
// "none"; YaRN and LongRoPE are refused. Then Llama 3.1's rope_freqs.weight, per-pair divisors.
Status read_rope_scaling(const GgufFile& f, const std::string& a, ModelConfig& c) {
  std::string_view type = "linear";
  if (const GgufValue* v = f.find(a + "rope.scaling.type"); v != nullptr) {
    auto t = f.get_string(a + "rope.scaling.type");
    if (!t) return t.error();
    type = *t;
  }
  if (type != "none" && type != "linear")
    return refuse(f, a + "rope.scaling.type '" + std::string(type) + "': ladle has linear RoPE scaling and Llama 3.1's "
                     "rope_freqs, not YaRN or LongRoPE");
  double factor = 0;
  for (const std::string& key : {a + "rope.scaling.factor", a + "rope.scale_linear"}) {
    if (f.find(key) == nullptr) continue;
    auto x = f.get_float(key);
    if (!x) return x.error();
    factor = *x;
    break;
  }
  if (!(factor >= 0 && factor < 1e30)) return refuse(f, a + "rope.scaling.factor must be positive");
  if (type == "linear" && factor != 0) c.rope_freq_scale = float(1.0 / factor);

  const GgufTensorInfo* t = f.find_tensor("rope_freqs.weight");
  if (t == nullptr) return Ok{};
  const int pairs = c.head_dim() / 2;
  if (t->n_dims != 1 || t->ne[0] != pairs)
    return refuse(f, "tensor 'rope_freqs.weight' has shape " + t->shape() + ", expected [" + std::to_string(pairs) +
                     "] (one factor per RoPE pair)");
  if (!can_dequantize(t->type))
    return refuse(f, "tensor 'rope_freqs.weight' has type " + ggml_type_name(t->type) + ", which ladle does not read");
  c.rope_freq_factors.resize(std::size_t(pairs));
  dequantize(t->type, t->data.data(), c.rope_freq_factors.data(), std::size_t(pairs));
  for (float x : c.rope_freq_factors)
    if (!(x > 0 && x < 1e30f)) return refuse(f, "tensor 'rope_freqs.weight' holds a factor that is not positive and finite");
  return Ok{};
}

// Whether the layers have Q/K/V biases: all three in every layer, or none at all.
Expected<bool> read_qkv_bias(const GgufFile& f, int n_layers) {
  const bool first = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  for (int l = 0; l < n_layers; ++l)
    for (const char* part : {"attn_q", "attn_k", "attn_v"}) {
      const std::string name = "blk." + std::to_string(l) + "." + part + ".bias";
      if ((f.find_tensor(name) != nullptr) != first)
        return refuse(f, "tensor '" + name + "' is " + (first ? "missing" : "present") +
                             ": ladle runs Q/K/V biases in all layers or in none");
    }
  return first;
}

}  // namespace

Expected<ModelConfig> llama_config_from_gguf(const GgufFile& f) {
  auto arch_key = f.get_string("general.architecture");
  if (!arch_key) return arch_key.error();
  const std::string arch(*arch_key);
  if (arch != "llama" && arch != "qwen2")
    return refuse(f, "unsupported architecture '" + arch + "': ladle runs general.architecture 'llama' and 'qwen2'");
  const std::string a = arch + ".";

  ModelConfig c;
  for (auto [key, field] : {std::pair{"embedding_length", &c.dim}, std::pair{"feed_forward_length", &c.hidden_dim},
                            std::pair{"block_count", &c.n_layers}, std::pair{"attention.head_count", &c.n_heads},
                            std::pair{"context_length", &c.seq_len}})
    if (auto st = read_int(f, a + key, *field); !st) return st.error();
  if (auto st = read_int(f, a + "attention.head_count_kv", c.n_kv_heads, c.n_heads); !st) return st.error();
  if (c.n_heads <= 0) return refuse(f, a + "attention.head_count is 0");

  auto eps = f.get_float(a + "attention.layer_norm_rms_epsilon");
  if (!eps) return eps.error();
  double base = c.rope_theta;
  if (f.find(a + "rope.freq_base") != nullptr) {
    auto b = f.get_float(a + "rope.freq_base");
    if (!b) return b.error();
    base = *b;
  }
  // Checked as doubles: an f64 beyond float's range must not be converted.
  if (!(*eps > 0 && *eps < 1) || !(base > 0 && base <= 1e30))
    return refuse(f, a + "attention.layer_norm_rms_epsilon must be in (0, 1) and " + a + "rope.freq_base positive");
  c.norm_eps = float(*eps);
  c.rope_theta = float(base);
  // NOTE(gguf): llama.cpp's llama_model_rope_type(): "llama" rotates adjacent pairs (NORM),
  // "qwen2" the halves of each head (NEOX), whatever the file says elsewhere.
  c.rope_style = arch == "qwen2" ? RopeStyle::kHalves : RopeStyle::kAdjacentPairs;

  // The vocabulary is what the embedding holds; the tokenizer must then agree (gguf_tokenizer).
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return refuse(f, "tensor 'token_embd.weight' is missing");
  if (embd->n_dims != 2 || embd->ne[0] != c.dim || embd->ne[1] <= 0 || embd->ne[1] > (1 << 22))
    return refuse(f, "tensor 'token_embd.weight' has shape " + embd->shape() + ", expected [" + std::to_string(c.dim) +
                         ", vocabulary size] (" + a + "embedding_length " + std::to_string(c.dim) + ")");
  c.vocab_size = int(embd->ne[1]);
  if (f.find(a + "vocab_size") != nullptr) {
    auto v = f.get_uint(a + "vocab_size");
    if (!v) return v.error();
    if (*v != std::uint64_t(c.vocab_size))
      return refuse(f, a + "vocab_size is " + std::to_string(*v) + " but token_embd.weight has " +
                           std::to_string(c.vocab_size) + " rows");
  }
  c.shared_classifier = f.find_tensor("output.weight") == nullptr;
  if (auto st = c.validate(); !st) return refuse(f, st.error().message);

  // What the transformer does not implement is refused, not approximated.
  const int head_dim = c.dim / c.n_heads;
  int rope_dims = 0, key_len = 0, value_len = 0, experts = 0;
  if (auto st = read_int(f, a + "rope.dimension_count", rope_dims, head_dim); !st) return st.error();
  if (rope_dims != head_dim)
    return refuse(f, a + "rope.dimension_count is " + std::to_string(rope_dims) + " but the head size is " +
                         std::to_string(head_dim) + ": ladle rotates whole heads");
  if (auto st = read_rope_scaling(f, a, c); !st) return st.error();
  if (auto st = read_int(f, a + "attention.key_length", key_len, head_dim); !st) return st.error();
  if (auto st = read_int(f, a + "attention.value_length", value_len, head_dim); !st) return st.error();
  if (key_len != head_dim || value_len != head_dim)
    return refuse(f, "attention key/value length " + std::to_string(key_len) + "/" + std::to_string(value_len) +
                         " differs from embedding_length / head_count = " + std::to_string(head_dim));
  if (auto st = read_int(f, a + "expert_count", experts, 0); !st) return st.error();
  if (experts != 0) return refuse(f, a + "expert_count is " + std::to_string(experts) + ": ladle runs dense models, not MoE");
  auto bias = read_qkv_bias(f, c.n_layers);
  if (!bias) return bias.error();
  c.qkv_bias = *bias;
  if (auto st = c.validate(); !st) return refuse(f, st.error().message);
  return c;
}

}  // namespace ladle::model
