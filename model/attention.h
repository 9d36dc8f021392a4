// Paged causal attention for one layer of a ForwardBatch: every query row attends to positions
// [0, its own position] of its own sequence, reading K/V through the sequence's block table.
//
// Free functions; the caller (Transformer::forward on the engine thread) owns every buffer.
//
// NOTE(model): batch invariance. Each (row, head) is computed by one thread, visiting positions in
// increasing order in spans of up to 16 with fixed-order dot products and an online softmax, so
// its result depends only on its own query and its sequence's K/V — never on the batch around it,
// on which heads share a work item, or on how work is split across threads. Prefill chunks and
// decode tokens take the same path: a chunk's rows see each other causally because the chunk's
// K/V is written before attention runs. The AVX2 and portable builds give the same bits (the
// AVX-512 level runs the AVX2 build: see attention.cc).
//
// The cache may hold fp32 or half K/V (kvcache::KvDtype); half values are widened exactly, so an
// f16 cache gives the bits an fp32 cache holding the same rounded values would.
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
};

// Which kernel computes heads of 8 floats: kAuto puts up to 8 such heads in vector lanes (much
// faster at that size); kPerHead runs them one by one like every other head size. Both give the
// same bits; kPerHead exists so tests can prove that.
enum class AttentionPath { kAuto, kPerHead };

// Runs attention for every row of the batch, split across `pool` (null = this thread), with the
// kernels' build for the active ISA level (model/isa.h): every level gives the same bits.
void paged_attention(const AttentionArgs& args, ThreadPool* pool, AttentionPath path = AttentionPath::kAuto);

}  // namespace ladle::model
