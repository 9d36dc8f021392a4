// Weights: a read-only memory map of one llama2.c checkpoint, with per-layer tensor views (or the
// same views over a GGUF file's tensors: from_views(), built by gguf_weights.h).
//
// The file is a 7×int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
// seq_len; a negative vocab_size means the classifier is stored separately) followed by float32
// tensors in run.c's order. load() refuses any file whose size does not match its header exactly.
// Owned by the Transformer; immutable once it holds it (convert() runs before), so any thread
// may read it.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"
#include "model/config.h"
#include "model/half.h"
#include "model/matmul.h"
#include "model/streamed_buffer.h"

namespace ladle::model {

// How the matrices that matmul reads are held: kF32 keeps the checkpoint's floats (run.c-exact);
// kF16 rounds each to an IEEE half at load (half the bytes per token, nearest even). Either way
// they are repacked into matmul's panel layout. Embedding rows and RMS weights are fp32 in both.
enum class WeightType { kF32, kF16 };

// "f32" or "f16"; anything else is kInvalidArgument with a message listing the accepted names.
Expected<WeightType> parse_weight_type(std::string_view name);
const char* weight_type_name(WeightType type);

// One weight matrix [out × in].
struct Matrix {
  const float* f32 = nullptr;  // the checkpoint's values, row-major: always set (a view into the mapping)
  PackedMatrix packed;         // the panels matmul reads, at the weights' type: set by convert()
};

// Views for one layer.
struct LayerWeights {
  const float* rms_att = nullptr;  // [dim]
  Matrix wq;                       // [dim × dim]
  Matrix wk;                       // [kv_dim × dim]
  Matrix wv;                       // [kv_dim × dim]
  Matrix wo;                       // [dim × dim]
  const float* bq = nullptr;       // [dim] Q bias when config.qkv_bias, else null
  const float* bk = nullptr;       // [kv_dim] K bias, likewise
  const float* bv = nullptr;       // [kv_dim] V bias, likewise
  const float* rms_ffn = nullptr;  // [dim]
  Matrix w1;                       // [hidden × dim]
  Matrix w2;                       // [dim × hidden]
  Matrix w3;                       // [hidden × dim]
};

class Weights {
 public:
  // Maps `path` and checks it: the header must validate and the file must hold exactly the
  // floats its header implies. Errors name the problem (kNotFound for a missing file,
  // kInvalidArgument for a malformed one).
  static Expected<Weights> load(const std::string& path);

  // The tensors of a model held elsewhere (a GGUF file, see gguf_weights.h): every pointer in
  // `views` points into memory that `storage` keeps alive as long as the Weights (and its moves)
  // live. `droppable` lists fp32 matmul matrices that lie in a read-only file mapping: convert()
  // lets the kernel drop their pages, as it does for a checkpoint's. Nothing else is dropped.
  struct Views {
    const float* token_embedding = nullptr;  // [vocab × dim]
    std::vector<LayerWeights> layers;        // [n_layers], the Matrix::f32 views set
    const float* rms_final = nullptr;        // [dim]
    const float* classifier = nullptr;       // [vocab × dim]; the embedding when shared
  };
  static Weights from_views(const ModelConfig& config, Views views, std::shared_ptr<const void> storage,
                            std::vector<std::span<const float>> droppable);

  Weights(Weights&& other) noexcept;
  Weights& operator=(Weights&& other) noexcept;
  Weights(const Weights&) = delete;
  Weights& operator=(const Weights&) = delete;
  ~Weights();

  const ModelConfig& config() const { return config_; }
  const float* token_embedding() const { return token_embedding_; }  // [vocab × dim]
  const LayerWeights& layer(int l) const { return layers_[l]; }
  const float* rms_final() const { return rms_final_; }              // [dim]
  // [vocab × dim]; with a shared classifier its f32 view is the token embedding itself.
  const Matrix& classifier() const { return wcls_; }
  WeightType type() const { return type_; }
  // Bytes of weights read per decoded token (every matrix once at its type's width, plus one fp32
  // embedding row).
  std::size_t bytes_per_token() const;

  // Packs the matmul matrices (wq, wk, wv, wo, w1, w2, w3 of every layer and the classifier) into
  // one owned, 64-byte-aligned buffer of matmul panels at `type` and sets every Matrix::packed;
  // until the first call no matrix is packed. Then it lets the kernel drop their fp32 pages in the
  // mapping (they stay readable: the mapping re-reads them from the file). Calling it again with
  // the other type repacks; with the same type it does nothing. A value whose half is not finite
  // (|x| >= 65520 rounds to inf, or inf/NaN in the file) is refused with kInvalidArgument, leaving
  // the weights as they were: clamping would silently change the model, and llama2.c checkpoints
  // stay far inside the half range.
  // NOTE(model): memory. The packed copy takes the place of the matrices' mapped pages (same bytes
  // at kF32, half at kF16); with a shared classifier it is one extra vocab × dim matrix, since the
  // embedding table stays in the mapping for its row lookups (+37 MB fp32 for stories15M, +98 MB
  // for stories110M; half that at kF16).
  Status convert(WeightType type);

 private:
  Weights() = default;
  void release();
  // Every matmul matrix with its shape, in packing order (layer by layer, then the classifier).
  struct Slot {
    Matrix* m;
    int N, K;
  };
  std::vector<Slot> matmul_slots();
  // The checkpoint's fp32 matmul matrices as three contiguous runs (wq..wo of all layers, w1..w3
  // of all layers, the classifier unless it is the embedding): load()'s droppable_.
  std::vector<std::span<const float>> matmul_runs() const;

  ModelConfig config_;
  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  const float* token_embedding_ = nullptr;
  std::vector<LayerWeights> layers_;  // [n_layers]
  const float* rms_final_ = nullptr;
  Matrix wcls_;
  WeightType type_ = WeightType::kF32;
  StreamedBuffer packed_;  // the panels of every matrix, in matmul_slots() order
  std::shared_ptr<const void> storage_;  // from_views(): what the views point into
  std::vector<std::span<const float>> droppable_;  // fp32 matrices in a file mapping, dropped by convert()
};

}  // namespace ladle::model
