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
// kF16 rounds each to an IEEE half at load (half the bytes per token, nearest even); kQ8 holds
// ggml's Q8_0 numbers (int8 with a half scale per block of 32 along K, model/q8_panels.h: 1.0625
// bytes per weight), quantized at load as llama.cpp's quantize_row_q8_0_ref does, or a GGUF's
// Q8_0 / Q4_0 blocks as they are. Whatever the type they are repacked into matmul's panel layout.
// Embedding rows and RMS weights are fp32 in all of them. kNative keeps a GGUF's Q4_K and Q6_K
// matrices' blocks as the file holds them, copied byte for byte into the buffer of 2 MiB pages
// beside the panels (matmul reads the blocks, model/matmul_ggml.h; NOTE(weights) in weights.cc),
// and packs every other matrix as kQ8 does.
enum class WeightType { kF32, kF16, kQ8, kNative };

// "f32", "f16", "q8" or "native"; anything else is kInvalidArgument with a message listing the
// accepted names.
Expected<WeightType> parse_weight_type(std::string_view name);
const char* weight_type_name(WeightType type);

// A matrix held in a GGUF file's own block format (any ggml type but F32), row-major: N rows of
// K / (the type's block elements) blocks.
struct GgmlRows {
  std::uint32_t type = 0;
  const std::byte* data = nullptr;  // null: none
};

// One weight matrix [out × in].
struct Matrix {
  // The values, row-major: a view into the checkpoint's mapping (or a GGUF's fp32 tensors or
  // widened embedding); null for a GGUF matrix held only in its blocks (`ggml`).
  const float* f32 = nullptr;
  PackedMatrix packed;  // the panels matmul reads, at the weights' type: set by convert()
  // The GGUF file's Q8_0 / Q4_0 blocks of this matrix, if it has them: convert(kQ8) packs from
  // them (not from f32, which re-quantizing could change), kF32/kF16 widen them when f32 is null.
  GgmlRows ggml;
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
    const float* token_embedding = nullptr;  // [vocab × dim]; null if token_embedding_ggml holds it
    GgmlRows token_embedding_ggml;           // its Q8_0 / Q4_0 blocks, if the file has them
    std::vector<LayerWeights> layers;        // [n_layers], the Matrix::f32 views set
    const float* rms_final = nullptr;        // [dim]
    const float* classifier = nullptr;       // [vocab × dim]; the embedding when shared; null if
                                             // classifier_ggml holds it
    GgmlRows classifier_ggml;                // its Q8_0 / Q4_0 blocks, if the file has them
  };
  static Weights from_views(const ModelConfig& config, Views views, std::shared_ptr<const void> storage,
                            std::vector<std::span<const float>> droppable);

  Weights(Weights&& other) noexcept;
  Weights& operator=(Weights&& other) noexcept;
  Weights(const Weights&) = delete;
  Weights& operator=(const Weights&) = delete;
  ~Weights();

  const ModelConfig& config() const { return config_; }
  // [vocab × dim] in fp32; null for a GGUF whose embedding is Q8_0 / Q4_0 (it stays in the file's
  // blocks): read rows with embedding_row().
  const float* token_embedding() const { return token_embedding_; }
  // out[0..dim) = the embedding row of `token` (< vocab), widened from the file's blocks if need be.
  void embedding_row(int token, float* out) const;
  // Bytes of the token embedding as held: fp32, or the file's blocks (a Q4_K table is ~1/7 of it).
  std::size_t embedding_bytes() const;
  const LayerWeights& layer(int l) const { return layers_[l]; }
  const float* rms_final() const { return rms_final_; }              // [dim]
  // [vocab × dim]; with a shared classifier its f32 view is the token embedding itself.
  const Matrix& classifier() const { return wcls_; }
  WeightType type() const { return type_; }
  // Bytes of weights read per decoded token (every matrix once at its type's width, plus one fp32
  // embedding row).
  std::size_t bytes_per_token() const;
  // Bytes of the packed panels convert() made (0 before).
  std::size_t packed_bytes() const { return packed_bytes_; }
  // Bytes of the matrices matmul reads in the file's K-quant numbers, in panels (kNative; 0 otherwise).
  std::size_t native_bytes() const { return native_bytes_; }

  // Packs the matmul matrices (wq, wk, wv, wo, w1, w2, w3 of every layer and the classifier) into
  // one owned, 64-byte-aligned buffer of matmul panels at `type` and sets every Matrix::packed;
  // until the first call no matrix is packed. Then it lets the kernel drop their fp32 pages in the
  // mapping (they stay readable: the mapping re-reads them from the file). Calling it again with
  // the other type repacks; with the same type it does nothing. A value whose half is not finite
  // (|x| >= 65520 rounds to inf, or inf/NaN in the file) is refused with kInvalidArgument, leaving
  // the weights as they were: clamping would silently change the model, and llama2.c checkpoints
  // stay far inside the half range. kQ8 likewise refuses a value that is not finite or whose
  // block's scale overflows a half. A matrix held as GGUF blocks is packed from them: directly at
  // kQ8 (the same int8 and scales), widened one matrix at a time at kF32/kF16. At kNative a Q4_K
  // or Q6_K matrix is not packed: its Matrix::packed points at the blocks (PackedMatrix::ggml),
  // whose pages stay mapped (never dropped); the other matrices are packed as at kQ8.
  // NOTE(model): memory. The packed copy takes the place of the matrices' mapped pages (same bytes
  // at kF32, half at kF16); with a shared classifier it is one extra vocab × dim matrix, since the
  // embedding table stays in the mapping for its row lookups (+37 MB fp32 for stories15M, +98 MB
  // for stories110M; half that at kF16).
  // At kQ8, `q8_activations` says how the matrices meet x (model/q8_activations.h; Matrix::packed
  // carries it); converting again with only that changed repacks nothing.
  Status convert(WeightType type, Q8Activations q8_activations = Q8Activations::kInt8);

 private:
  Weights() = default;
  void release();
  // Every matmul matrix with its shape, in packing order (layer by layer, then the classifier).
  struct Slot {
    Matrix* m;
    int N, K;
  };
  std::vector<Slot> matmul_slots();
  // Packs rows [n0, n0 + rows) (a whole number of panels, or the last ones) of slot `index` into
  // the matrix's panels at `at`; returns the error naming a value the type cannot hold, or "".
  std::string pack_piece(WeightType type, const Slot& s, std::size_t index, int n0, int rows, char* at) const;
  // The checkpoint's fp32 matmul matrices as three contiguous runs (wq..wo of all layers, w1..w3
  // of all layers, the classifier unless it is the embedding): load()'s droppable_.
  std::vector<std::span<const float>> matmul_runs() const;

  ModelConfig config_;
  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  const float* token_embedding_ = nullptr;
  GgmlRows embedding_ggml_;  // when token_embedding_ is null
  std::vector<LayerWeights> layers_;  // [n_layers]
  const float* rms_final_ = nullptr;
  Matrix wcls_;
  WeightType type_ = WeightType::kF32;
  StreamedBuffer packed_;  // the panels of every matrix, in matmul_slots() order
  std::size_t packed_bytes_ = 0;
  std::size_t native_bytes_ = 0;
  std::shared_ptr<const void> storage_;  // from_views(): what the views point into
  std::vector<std::span<const float>> droppable_;  // fp32 matrices in a file mapping, dropped by convert()
};

}  // namespace ladle::model
