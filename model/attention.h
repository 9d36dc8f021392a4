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

}  // namespace ladle::model
