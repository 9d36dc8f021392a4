// Transformer: the llama2.c model as one batched forward step over a paged KV cache, with what
// the GGUF architectures add to its recipe (ModelConfig: Q/K/V biases, RoPE over halves or with
// scaled frequencies; config.h).
//
// Owns the mapped Weights, the thread pool and every scratch buffer (allocated once at load for
// RuntimeLimits::max_batch_tokens rows). forward() must be called from one thread at a time (the
// engine's step thread); config()/weights() are immutable and readable from anywhere.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kvcache/expected.h"
#include "kvcache/kv_store.h"
#include "model/argmax_screen.h"
#include "model/config.h"
#include "model/forward_batch.h"
#include "model/model_memory.h"
#include "model/ops.h"
#include "model/thread_pool.h"
#include "model/weights.h"

namespace ladle::model {

struct RuntimeLimits {
  int max_batch_tokens = 256;  // rows per forward step (prefill chunks + decode tokens)
  int max_seqs = 64;           // slices per step, i.e. the most logit rows one step returns
  int threads = 0;             // compute threads including the caller; 0 = all cores
  WeightType weights = WeightType::kF32;  // how matmul reads W; create() converts to it
  // Greedy rows through the classifier's ArgmaxScreen (it holds 1 byte per classifier weight,
  // +25 MB at the 110M shape). Off: every row gets full logits.
  bool argmax_screen = true;
  // With half weights, only a classifier of at least this many bytes is screened.
  // NOTE(model): a half classifier reads 2 bytes per weight against the screen's 1 plus its
  // per-row scans and wider int8 unpacking; it pays only when the classifier streams from memory.
  // `forward_bench --weights f16 --greedy --max-batch 4 --rounds 3 --min-time 2`, screened ÷ full
  // step time: 110M (a 49 MB half classifier) 1.08 / 1.05 / 1.00 at 1 / 2 / 4 rows; 15M (18 MB,
  // most of it L3-resident beside the 12 MB of layers) 0.91 / 0.80 / 0.77.
  std::size_t min_half_screen_bytes = std::size_t(32) << 20;
  // With kQ8 weights: x quantized to int8 per row, or kept fp32 (model/q8_activations.h).
  Q8Activations q8_activations = Q8Activations::kInt8;
};

class Transformer {
 public:
  // Maps the checkpoint, converts its matrices to limits.weights and allocates the step buffers.
  // Fails on a bad file, bad limits or weights that do not fit the type (Weights::convert).
  static Expected<std::unique_ptr<Transformer>> load(const std::string& checkpoint_path, RuntimeLimits limits);
  static Expected<std::unique_ptr<Transformer>> create(Weights weights, RuntimeLimits limits);

  const ModelConfig& config() const { return weights_.config(); }
  const Weights& weights() const { return weights_; }
  const RuntimeLimits& limits() const { return limits_; }
  // The KvStore shape this model needs (block size and value type as given). Either type works
  // with forward(): kF16 stores K/V rounded to half (nearest even, saturating at ±65504).
  kvcache::KvShape kv_shape(int block_size, kvcache::KvDtype dtype = kvcache::KvDtype::kF32) const;

  // Runs one step for `batch` (any mix of prefill chunks and decode tokens; num_tokens() <=
  // max_batch_tokens, seqs.size() <= max_seqs, every token id < vocab and position < seq_len,
  // block tables covering every position up to context_len). Writes each token's K/V into `kv`
  // at slot table[pos / bs], pos % bs, and returns logits [num_logit_rows × vocab] in slice order
  // (SequenceSlice::num_logit_rows() rows per slice; argmax_only is ignored here: every such row
  // gets its logits). The span stays valid until the next forward().
  std::span<const float> forward(const ForwardBatch& batch, kvcache::KvStore& kv);

  // forward(), but `drop` is asked before every layer after the first for slices (indices into
  // batch.seqs) to leave out of the rest of the step — requests cancelled while it runs — so that
  // their blocks can be released at once. Dropped slices get no logits: `logits` has the rows of
  // the surviving slices, in slice order. K/V rows a dropped slice wrote before it was
  // dropped are left in its blocks, beyond its computed tokens. If every slice is dropped the step
  // ends there.
  // When every surviving slice with logits is argmax_only (none all_logits) and at most kMaxScreenRows of them,
  // and the ArgmaxScreen can decide them, `greedy` holds each one's token (the first maximum of
  // its logits, bit-for-bit what argmax(logits) would give) and `logits` is empty.
  using DropFn = std::function<std::vector<int>()>;
  struct StepResult {
    std::span<const float> logits;
    std::vector<bool> dropped;  // [batch.seqs.size()]
    std::vector<TokenId> greedy;  // [logit rows] when screened, else empty
  };
  // The most greedy rows a step screens.
  // NOTE(model): measured alternately every 8 steps in one process (fp32, context ~100, two
  // threads, as `forward_bench --greedy` does), screened ÷ full tokens/s: 110M shape 1.13-1.17
  // at 1 row, 1.12-1.16 at 2, 1.03-1.04 at 4 (0.99-1.01 at 8, unscreened: the control); 15M
  // shape 1.44-1.46 at 1, 1.34-1.41 at 2, 1.04-1.05 at 4.
  // Beyond a few rows W is no longer streamed once per row, and the screen's own product and
  // per-row scans cost what they save (15M at 8 rows, screened: 0.94).
  static constexpr int kMaxScreenRows = 4;
  StepResult forward_dropping(const ForwardBatch& batch, kvcache::KvStore& kv, const DropFn& drop);

  // Runs fn(task, thread) for every task in [0, n) on the model's compute threads (the caller
  // included), for per-sequence work between steps such as sampling. Not during forward().
  void parallel_for(int n, const ThreadPool::Task& fn) { pool_.parallel_for(n, fn); }
  int num_threads() const { return pool_.num_threads(); }
  // Memory held by the classifier's ArgmaxScreen; 0 when there is none (off, or f16 weights).
  std::size_t argmax_screen_bytes() const { return screen_.bytes(); }
  // What the model holds before a KV cache: packed weights, embedding, step buffers, screen, and
  // the process's resident set now. create() logs it to stderr ("ladle: model memory: ...").
  ModelMemory memory() const;

 private:
  Transformer(Weights weights, RuntimeLimits limits);
  void write_kv(const ForwardBatch& batch, kvcache::KvStore& kv, int layer);
  // Final RMSNorm of the logit rows, then their tokens through the screen (if `screen` allows and
  // it decides) or their logits.
  void classify(const ForwardBatch& batch, bool screen, StepResult& result);
  StepResult run(const ForwardBatch& batch, kvcache::KvStore& kv, const DropFn& drop, bool screen);
  // Removes from `cur` the slices whose origin is marked in `dropped`, moving the survivors'
  // residual rows down to match; refreshes row_seq_ and returns the new row count.
  int compact(ForwardBatch& cur, std::vector<int>& origin, const std::vector<bool>& dropped);
  void map_rows(const ForwardBatch& batch);

  Weights weights_;
  RuntimeLimits limits_;
  ThreadPool pool_;
  RopeTable rope_;
  // Step buffers, T = max_batch_tokens, S = max_seqs (llama2.c's RunState, batched).
  std::vector<float> x_;       // [T × dim] residual stream
  std::vector<float> xb_;      // [T × dim] normed input of a sub-layer
  std::vector<float> xb2_;     // [T × dim] sub-layer output before the residual add
  std::vector<float> q_;       // [T × dim]
  std::vector<float> k_;       // [T × kv_dim]
  std::vector<float> v_;       // [T × kv_dim]
  std::vector<float> att_out_; // [T × dim] attention output (heads concatenated)
  std::vector<float> hb_;      // [T × hidden] w1·x, then the gated activation
  std::vector<float> hb2_;     // [T × hidden] w3·x
  std::vector<std::int32_t> row_seq_;  // [T] slice index of each row
  // [R × dim] normed rows that need logits, [R × vocab] their logits. R = S, but larger during
  // a step whose all_logits slices need more rows (prompt log-probabilities), until the next step
  // that does not.
  std::vector<float> final_;
  std::vector<float> logits_;
  ArgmaxScreen screen_;        // built at load unless limits.argmax_screen is off
};

}  // namespace ladle::model
