#include "model/attention.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace ladle::model {

namespace {

// NOTE(model): the loops below are compiled twice, for AVX2 and for baseline x86-64, and picked
// at run time. Neither build uses FMA (ISO C++ mode disables contraction), so both produce the
// same bits: vectorisation changes speed, never results.

// q·k over n floats in a fixed order (8 interleaved partial sums, then a pairwise tree).
[[gnu::always_inline]] inline float dot_fixed(const float* a, const float* b, int n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) lane[l] += a[k + l] * b[k + l];
  for (int l = 0; k < n; ++k, ++l) lane[l] += a[k] * b[k];
  const float s0 = lane[0] + lane[4], s1 = lane[1] + lane[5], s2 = lane[2] + lane[6], s3 = lane[3] + lane[7];
  return (s0 + s2) + (s1 + s3);
}

// Scores and mixes one head over positions [0, ctx) stored in the paged cache:
// out[hd] = Σ_t softmax_t(q·k_t / √hd) · v_t. Positions are visited block by block (pointer steps of
// kv_dim inside a block, no division per position) in increasing order; `att` holds ctx floats.
struct HeadView {
  const kvcache::KvStore* kv;
  int layer;
  const BlockId* table;
  int block_size;
  int kv_dim;
  int kv_off;  // this head's offset inside a K/V row
};

[[gnu::always_inline]] inline void attend_head(const float* q, int ctx, int head_dim, const HeadView& h,
                                               float* att, float* out) {
  const float scale = 1.0f / std::sqrt(float(head_dim));
  float max_val = -INFINITY;
  for (int b = 0, t = 0; t < ctx; ++b) {
    const float* k = h.kv->key_block(h.layer, h.table[b]) + h.kv_off;
    for (const int end = std::min(ctx, t + h.block_size); t < end; ++t, k += h.kv_dim) {
      att[t] = dot_fixed(q, k, head_dim) * scale;
      max_val = att[t] > max_val ? att[t] : max_val;
    }
  }
  float sum = 0.0f;
  for (int t = 0; t < ctx; ++t) {
    att[t] = std::exp(att[t] - max_val);
    sum += att[t];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < head_dim; ++i) out[i] = 0.0f;
  for (int b = 0, t = 0; t < ctx; ++b) {
    const float* v = h.kv->value_block(h.layer, h.table[b]) + h.kv_off;
    for (const int end = std::min(ctx, t + h.block_size); t < end; ++t, v += h.kv_dim) {
      const float a = att[t] * inv;
      for (int i = 0; i < head_dim; ++i) out[i] += a * v[i];
    }
  }
}

// Attention for work items [begin, end) of (row, head) pairs, item = row * n_heads + head.
[[gnu::always_inline]] inline void attend_items_body(const AttentionArgs& a, int begin, int end, float* att) {
  const ModelConfig& cfg = *a.cfg;
  const int hd = cfg.head_dim(), dim = cfg.dim, kv_dim = cfg.kv_dim();
  const int group = cfg.n_heads / cfg.n_kv_heads;  // query heads sharing one K/V head
  for (int item = begin; item < end; ++item) {
    const int row = item / cfg.n_heads, h = item % cfg.n_heads;
    const SequenceSlice& s = a.batch->seqs[a.row_seq[row]];
    const int ctx = a.batch->positions[row] + 1;  // causal: positions [0, pos]
    const HeadView view{a.kv, a.layer, s.block_table.data(), a.kv->block_size(), kv_dim, (h / group) * hd};
    attend_head(a.q + std::size_t(row) * dim + h * hd, ctx, hd, view, att, a.out + std::size_t(row) * dim + h * hd);
  }
}

[[gnu::target("avx2")]] void attend_items_avx2(const AttentionArgs& a, int begin, int end, float* att) {
  attend_items_body(a, begin, end, att);
}
void attend_items_portable(const AttentionArgs& a, int begin, int end, float* att) {
  attend_items_body(a, begin, end, att);
}

using ItemsFn = void (*)(const AttentionArgs&, int, int, float*);
const ItemsFn attend_items = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? ItemsFn(attend_items_avx2) : ItemsFn(attend_items_portable);
}();

}  // namespace

void paged_attention(const AttentionArgs& args, ThreadPool* pool) {
  const int items = args.batch->num_tokens() * args.cfg->n_heads;
  if (pool == nullptr) {
    attend_items(args, 0, items, args.att);
    return;
  }
  // Tasks of a few (row, head) items; each task uses the score scratch of the thread running it.
  constexpr int kItemsPerTask = 4;
  const int tasks = (items + kItemsPerTask - 1) / kItemsPerTask;
  pool->parallel_for(tasks, [&](int t, int thread) {
    attend_items(args, t * kItemsPerTask, std::min(items, (t + 1) * kItemsPerTask),
                 args.att + std::size_t(thread) * args.cfg->seq_len);
  });
}

}  // namespace ladle::model
