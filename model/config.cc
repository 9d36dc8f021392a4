#include "model/config.h"

#include <string>

namespace ladle::model {

Status ModelConfig::validate() const {
  auto bad = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, "model config: " + m); };
  if (dim <= 0) return bad("dim must be positive, got " + std::to_string(dim));
  if (hidden_dim <= 0) return bad("hidden_dim must be positive, got " + std::to_string(hidden_dim));
  if (n_layers <= 0) return bad("n_layers must be positive, got " + std::to_string(n_layers));
  if (n_heads <= 0) return bad("n_heads must be positive, got " + std::to_string(n_heads));
  if (n_kv_heads <= 0) return bad("n_kv_heads must be positive, got " + std::to_string(n_kv_heads));
  if (vocab_size <= 0) return bad("vocab_size must be non-zero");
  if (seq_len <= 0) return bad("seq_len must be positive, got " + std::to_string(seq_len));
  if (dim % n_heads != 0)
    return bad("n_heads (" + std::to_string(n_heads) + ") does not divide dim (" + std::to_string(dim) + ")");
  if (n_heads % n_kv_heads != 0)
    return bad("n_kv_heads (" + std::to_string(n_kv_heads) + ") does not divide n_heads (" +
               std::to_string(n_heads) + ")");
  if (head_dim() % 2 != 0) return bad("head size " + std::to_string(head_dim()) + " is odd (RoPE needs pairs)");
  if (!rope_freq_factors.empty() && int(rope_freq_factors.size()) != head_dim() / 2)
    return bad(std::to_string(rope_freq_factors.size()) + " RoPE frequency factors for a head of " +
               std::to_string(head_dim()) + " (one per pair expected)");
  for (float f : rope_freq_factors)
    if (!(f > 0 && f < 1e30f)) return bad("a RoPE frequency factor is not positive and finite");
  if (!(rope_freq_scale > 0 && rope_freq_scale < 1e30f)) return bad("the RoPE frequency scale is not positive and finite");
  // Guard the size arithmetic against absurd headers before anyone multiplies them.
  if (dim > (1 << 16) || hidden_dim > (1 << 18) || n_layers > 1024 || vocab_size > (1 << 22) ||
      seq_len > (1 << 22))
    return bad("dimensions are implausibly large");
  return Ok{};
}

std::size_t ModelConfig::checkpoint_floats() const {
  const std::size_t d = dim, h = hidden_dim, l = n_layers, v = vocab_size, kv = kv_dim();
  const std::size_t hs = head_dim();
  std::size_t n = v * d;                         // token embedding
  n += l * d;                                    // rms_att
  n += l * d * d + 2 * l * d * kv + l * d * d;   // wq, wk, wv, wo
  n += l * d;                                    // rms_ffn
  n += 3 * l * d * h;                            // w1, w2, w3
  n += d;                                        // rms_final
  n += std::size_t(seq_len) * hs;                // freq_cis_real + freq_cis_imag (seq_len × hs/2 each)
  if (!shared_classifier) n += v * d;            // wcls
  return n;
}

std::size_t ModelConfig::matmul_params() const {
  const std::size_t d = dim, h = hidden_dim, l = n_layers, v = vocab_size, kv = kv_dim();
  return l * (2 * d * d + 2 * d * kv + 3 * d * h) + v * d;
}

std::optional<ModelConfig> preset_config(std::string_view name) {
  auto shape = [](int dim, int hidden, int layers, int heads, int kv_heads, int vocab, int seq_len) {
    ModelConfig c;
    c.dim = dim; c.hidden_dim = hidden; c.n_layers = layers; c.n_heads = heads; c.n_kv_heads = kv_heads;
    c.vocab_size = vocab; c.seq_len = seq_len;
    return c;
  };
  if (name == "tiny") return shape(64, 172, 5, 8, 4, 512, 512);
  if (name == "15m") return shape(288, 768, 6, 6, 6, 32000, 256);
  if (name == "42m") return shape(512, 1376, 8, 8, 8, 32000, 1024);
  if (name == "110m") return shape(768, 2048, 12, 12, 12, 32000, 1024);
  return std::nullopt;
}

}  // namespace ladle::model
