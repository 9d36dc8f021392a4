// Paged causal attention for one layer of a ForwardBatch: every query row attends to positions
// [0, its own position] of its own sequence, reading K/V through the sequence's block table.
//
// Free functions; the caller (Transformer::forward on the engine thread) owns every buffer.
//
// NOTE(model): batch invariance. Each (token, head) pair is computed by one thread, visiting
// positions in increasing order with the same fixed-order dot product and softmax, so its result
// depends only on its own query and its sequence's K/V — never on the batch around it or on how
// work is split across threads. Prefill chunks and decode tokens take the same path: a chunk's
// rows see each other causally because the chunk's K/V is written before attention runs.
#pragma once

#include <cstdint>
#include <span>

#include "kvcache/kv_store.h"
#include "model/config.h"
#include "model/forward_batch.h"
#include "model/thread_pool.h"

namespace ladle::model {

// Scores and mixes one head: out[hd] = Σ_t softmax_t(q·k_t / √hd) · v_t over t in [0, ctx),
// where key(t) / value(t) return that position's head row. `att` has room for ctx floats.
template <class KeyFn, class ValueFn>
void attend_head(const float* q, int ctx, int head_dim, KeyFn key, ValueFn value, float* att, float* out);

struct AttentionArgs {
  const ForwardBatch* batch = nullptr;
  const kvcache::KvStore* kv = nullptr;
  int layer = 0;
  const ModelConfig* cfg = nullptr;
  std::span<const std::int32_t> row_seq;  // [num_tokens] index of each row's slice in batch->seqs
  const float* q = nullptr;               // [num_tokens × dim], RoPE applied
  float* out = nullptr;                   // [num_tokens × dim]
  float* att = nullptr;                   // [pool threads × seq_len] score scratch
};

// Runs attention for every row of the batch, split across `pool` (null = this thread).
void paged_attention(const AttentionArgs& args, ThreadPool* pool);

// q·k over n floats in a fixed order (8 interleaved partial sums, then a pairwise tree).
float dot_fixed(const float* a, const float* b, int n);
// out[i] += a · v[i] for i < n.
void axpy(float* out, float a, const float* v, int n);

template <class KeyFn, class ValueFn>
void attend_head(const float* q, int ctx, int head_dim, KeyFn key, ValueFn value, float* att, float* out) {
  const float scale = 1.0f / __builtin_sqrtf(float(head_dim));
  float max_val = -__builtin_inff();
  for (int t = 0; t < ctx; ++t) {
    att[t] = dot_fixed(q, key(t), head_dim) * scale;
    max_val = att[t] > max_val ? att[t] : max_val;
  }
  float sum = 0.0f;
  for (int t = 0; t < ctx; ++t) {
    att[t] = __builtin_expf(att[t] - max_val);
    sum += att[t];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < head_dim; ++i) out[i] = 0.0f;
  for (int t = 0; t < ctx; ++t) {
    axpy(out, att[t] * inv, value(t), head_dim);
  }
}

}  // namespace ladle::model
