// Paged attention equals contiguous attention: K/V scattered over shuffled blocks of a KvStore,
// GQA heads, a causal prefill chunk and decode rows of two sequences in one call.
#include "model/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace ladle::model {
namespace {

// Contiguous reference in double: q [dim], K/V [ctx × kv_dim] of one sequence.
std::vector<float> reference(const ModelConfig& c, const float* q, const std::vector<float>& K,
                             const std::vector<float>& V, int ctx) {
  const int hd = c.head_dim(), group = c.n_heads / c.n_kv_heads;
  std::vector<float> out(c.dim);
  for (int h = 0; h < c.n_heads; ++h) {
    const int kvh = h / group;
    std::vector<double> s(ctx);
    double mx = -1e300, sum = 0;
    for (int t = 0; t < ctx; ++t) {
      double d = 0;
      for (int i = 0; i < hd; ++i) d += double(q[h * hd + i]) * K[std::size_t(t) * c.kv_dim() + kvh * hd + i];
      s[t] = d / std::sqrt(double(hd));
      mx = std::max(mx, s[t]);
    }
    for (double& v : s) sum += v = std::exp(v - mx);
    for (int i = 0; i < hd; ++i) {
      double acc = 0;
      for (int t = 0; t < ctx; ++t) acc += s[t] / sum * V[std::size_t(t) * c.kv_dim() + kvh * hd + i];
      out[h * hd + i] = float(acc);
    }
  }
  return out;
}

TEST(PagedAttention, EqualsContiguousAttention) {
  ModelConfig c;
  c.dim = 64; c.hidden_dim = 128; c.n_layers = 2; c.n_heads = 8; c.n_kv_heads = 2;
  c.vocab_size = 32; c.seq_len = 128;
  const int bs = 4, layer = 1;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  kvcache::KvStore kv({c.n_layers, c.kv_dim(), bs}, 40);
  std::vector<BlockId> free_blocks(40);
  for (int i = 0; i < 40; ++i) free_blocks[i] = i;
  std::shuffle(free_blocks.begin(), free_blocks.end(), rng);

  // Sequence A: 37 tokens of context, this step a prefill chunk of positions 30..36.
  // Sequence B: 13 tokens, this step one decode row at position 12.
  const int ctx[2] = {37, 13}, first[2] = {30, 12};
  std::vector<float> K[2], V[2];
  ForwardBatch batch;
  for (int s = 0; s < 2; ++s) {
    K[s].resize(std::size_t(ctx[s]) * c.kv_dim());
    V[s].resize(K[s].size());
    for (float& x : K[s]) x = u(rng);
    for (float& x : V[s]) x = u(rng);
    SequenceSlice slice{batch.num_tokens(), ctx[s] - first[s], ctx[s], {}, true};
    for (int b = 0; b * bs < ctx[s]; ++b) slice.block_table.push_back(free_blocks.back()), free_blocks.pop_back();
    for (int t = 0; t < ctx[s]; ++t) {
      const BlockId b = slice.block_table[t / bs];
      std::copy_n(&K[s][std::size_t(t) * c.kv_dim()], c.kv_dim(), kv.key_block(layer, b) + (t % bs) * c.kv_dim());
      std::copy_n(&V[s][std::size_t(t) * c.kv_dim()], c.kv_dim(), kv.value_block(layer, b) + (t % bs) * c.kv_dim());
    }
    for (int p = first[s]; p < ctx[s]; ++p) batch.token_ids.push_back(0), batch.positions.push_back(p);
    batch.seqs.push_back(slice);
  }
  const int T = batch.num_tokens();
  std::vector<float> q(std::size_t(T) * c.dim), out(q.size());
  for (float& x : q) x = u(rng);
  std::vector<std::int32_t> row_seq(T);
  for (int t = 0; t < T; ++t) row_seq[t] = t < ctx[0] - first[0] ? 0 : 1;
  ThreadPool pool(2);
  std::vector<float> att(2 * c.seq_len);
  paged_attention({&batch, &kv, layer, &c, row_seq, q.data(), out.data(), att.data()}, &pool);

  for (int t = 0; t < T; ++t) {
    const int s = row_seq[t];
    const auto want = reference(c, &q[std::size_t(t) * c.dim], K[s], V[s], batch.positions[t] + 1);
    for (int i = 0; i < c.dim; ++i) ASSERT_NEAR(out[std::size_t(t) * c.dim + i], want[i], 1e-5) << "row " << t;
  }
  // Single-threaded gives the same bits (work split does not change any reduction).
  std::vector<float> out1(out.size());
  paged_attention({&batch, &kv, layer, &c, row_seq, q.data(), out1.data(), att.data()}, nullptr);
  EXPECT_EQ(out, out1);
}

}  // namespace
}  // namespace ladle::model
