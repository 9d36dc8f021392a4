// ModelConfig: the shape of a llama2.c checkpoint (its 7×int32 header) plus the constants the
// format leaves implicit, and what the GGUF architectures ladle runs (llama.cpp's "llama" and
// "qwen2") add to that recipe: Q/K/V biases, RoPE over halves, RoPE frequency scaling. A value type;
// validate() before trusting one read from a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"

namespace ladle::model {

// Which dimensions of a head RoPE rotates together. kAdjacentPairs: (x[2i], x[2i+1]), Meta's
// layout, llama2.c's and llama.cpp's LLAMA_ROPE_TYPE_NORM ("llama"). kHalves: (x[i], x[i + d/2]),
// Hugging Face's rotate_half, llama.cpp's LLAMA_ROPE_TYPE_NEOX ("qwen2" and most newer families).
// Pair i turns by pos · theta^(-2i/d) in both.
enum class RopeStyle { kAdjacentPairs, kHalves };

struct ModelConfig {
  int dim = 0;         // transformer width
  int hidden_dim = 0;  // SwiGLU FFN width
  int n_layers = 0;
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads (GQA when < n_heads)
  int vocab_size = 0;  // always positive here; see shared_classifier
  int seq_len = 0;     // max positions
  bool shared_classifier = true;  // header vocab > 0: classifier = token embedding
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  RopeStyle rope_style = RopeStyle::kAdjacentPairs;
  // Linear RoPE scaling: every angle times this (1 / rope.scaling.factor); 1 = none.
  float rope_freq_scale = 1.0f;
  // [head_dim / 2] divisors of each pair's angle (Llama 3.1's "llama3" scaling, the GGUF's
  // rope_freqs.weight); empty = none.
  std::vector<float> rope_freq_factors = {};
  bool qkv_bias = false;  // the Q, K and V projections add a bias ("qwen2")

  int head_dim() const { return dim / n_heads; }
  int kv_dim() const { return n_kv_heads * head_dim(); }

  // An error naming the first inconsistent field (zero/negative dims, heads not dividing dim,
  // kv heads not dividing heads, odd head size for RoPE, ...), or Ok.
  Status validate() const;
  // Number of float32 values a checkpoint of this shape holds after the header, in run.c's order
  // (including the legacy freq_cis tables run.c skips, and the classifier if unshared).
  std::size_t checkpoint_floats() const;
  // Floats in the weight matrices used per token (the basis of "2 × params" FLOP counts).
  std::size_t matmul_params() const;
};

// The shapes of karpathy/tinyllamas' stories checkpoints ("15m", "42m", "110m") and a
// stories260K-like "tiny" one (shared classifier); nullopt for any other name.
std::optional<ModelConfig> preset_config(std::string_view name);

}  // namespace ladle::model
