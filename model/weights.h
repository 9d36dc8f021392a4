// Weights: a read-only memory map of one llama2.c checkpoint, with per-layer tensor views.
//
// The file is a 7×int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
// seq_len; a negative vocab_size means the classifier is stored separately) followed by float32
// tensors in run.c's order. load() refuses any file whose size does not match its header exactly.
// Owned by the Transformer; immutable after load, so any thread may read it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kvcache/expected.h"
#include "model/config.h"

namespace ladle::model {

// Views into the mapping for one layer (W matrices are [out × in], row-major).
struct LayerWeights {
  const float* rms_att = nullptr;  // [dim]
  const float* wq = nullptr;       // [dim × dim]
  const float* wk = nullptr;       // [kv_dim × dim]
  const float* wv = nullptr;       // [kv_dim × dim]
  const float* wo = nullptr;       // [dim × dim]
  const float* rms_ffn = nullptr;  // [dim]
  const float* w1 = nullptr;       // [hidden × dim]
  const float* w2 = nullptr;       // [dim × hidden]
  const float* w3 = nullptr;       // [hidden × dim]
};

class Weights {
 public:
  // Maps `path` and checks it: the header must validate and the file must hold exactly the
  // floats its header implies. Errors name the problem (kNotFound for a missing file,
  // kInvalidArgument for a malformed one).
  static Expected<Weights> load(const std::string& path);

  Weights(Weights&& other) noexcept;
  Weights& operator=(Weights&& other) noexcept;
  Weights(const Weights&) = delete;
  Weights& operator=(const Weights&) = delete;
  ~Weights();

  const ModelConfig& config() const { return config_; }
  const float* token_embedding() const { return token_embedding_; }  // [vocab × dim]
  const LayerWeights& layer(int l) const { return layers_[l]; }
  const float* rms_final() const { return rms_final_; }              // [dim]
  const float* classifier() const { return wcls_; }                  // [vocab × dim]
  // Bytes of weights read per decoded token (every matrix once, plus one embedding row).
  std::size_t bytes_per_token() const;

 private:
  Weights() = default;
  void release();

  ModelConfig config_;
  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  const float* token_embedding_ = nullptr;
  std::vector<LayerWeights> layers_;  // [n_layers]
  const float* rms_final_ = nullptr;
  const float* wcls_ = nullptr;
};

}  // namespace ladle::model
