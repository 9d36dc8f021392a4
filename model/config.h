// ModelConfig: the shape of a llama2.c checkpoint (its 7×int32 header) plus the constants the
// format leaves implicit. A value type; validate() before trusting one read from a file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "kvcache/expected.h"

namespace ladle::model {

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
