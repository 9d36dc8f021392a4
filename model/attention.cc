#include "model/attention.h"

#include <algorithm>
#include <cassert>

namespace ladle::model {

// NOTE(model): both kernels are compiled for AVX2 and for baseline x86-64 (runtime dispatch by
// target_clones). Neither uses FMA (ISO C++ mode disables contraction), so both clones produce
// the same bits: vectorisation here only changes speed, never results.
__attribute__((target_clones("avx2", "default")))
float dot_fixed(const float* a, const float* b, int n) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int k = 0;
  for (; k + 8 <= n; k += 8)
    for (int l = 0; l < 8; ++l) lane[l] += a[k + l] * b[k + l];
  for (int l = 0; k < n; ++k, ++l) lane[l] += a[k] * b[k];
  const float s0 = lane[0] + lane[4], s1 = lane[1] + lane[5], s2 = lane[2] + lane[6], s3 = lane[3] + lane[7];
  return (s0 + s2) + (s1 + s3);
}

__attribute__((target_clones("avx2", "default")))
void axpy(float* out, float a, const float* v, int n) {
  for (int i = 0; i < n; ++i) out[i] += a * v[i];
}

namespace {

// Attention for work items [begin, end) of (row, head) pairs, item = row * n_heads + head.
void attend_items(const AttentionArgs& a, int begin, int end, float* att) {
  const ModelConfig& cfg = *a.cfg;
  const int hd = cfg.head_dim(), dim = cfg.dim, kv_dim = cfg.kv_dim();
  const int group = cfg.n_heads / cfg.n_kv_heads;  // query heads sharing one K/V head
  const int bs = a.kv->block_size();
  for (int item = begin; item < end; ++item) {
    const int row = item / cfg.n_heads, h = item % cfg.n_heads;
    const SequenceSlice& s = a.batch->seqs[a.row_seq[row]];
    const int ctx = a.batch->positions[row] + 1;  // causal: positions [0, pos]
    const BlockId* table = s.block_table.data();
    const int kv_off = (h / group) * hd;
    auto key = [&](int t) { return a.kv->key_block(a.layer, table[t / bs]) + (t % bs) * kv_dim + kv_off; };
    auto value = [&](int t) { return a.kv->value_block(a.layer, table[t / bs]) + (t % bs) * kv_dim + kv_off; };
    attend_head(a.q + std::size_t(row) * dim + h * hd, ctx, hd, key, value, att,
                a.out + std::size_t(row) * dim + h * hd);
  }
}

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
