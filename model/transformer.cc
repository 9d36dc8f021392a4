#include "model/transformer.h"

#include <cassert>
#include <cstring>

#include "model/attention.h"
#include "model/matmul.h"

namespace ladle::model {

Expected<std::unique_ptr<Transformer>> Transformer::load(const std::string& path, RuntimeLimits limits) {
  auto weights = Weights::load(path);
  if (!weights.ok()) return weights.error();
  return create(std::move(weights).value(), limits);
}

Expected<std::unique_ptr<Transformer>> Transformer::create(Weights weights, RuntimeLimits limits) {
  if (limits.max_batch_tokens <= 0 || limits.max_seqs <= 0)
    return make_error(ErrorCode::kInvalidArgument, "runtime limits: max_batch_tokens and max_seqs must be positive");
  if (limits.max_seqs > limits.max_batch_tokens) limits.max_seqs = limits.max_batch_tokens;
  return std::unique_ptr<Transformer>(new Transformer(std::move(weights), limits));
}

Transformer::Transformer(Weights weights, RuntimeLimits limits)
    : weights_(std::move(weights)), limits_(limits), pool_(limits.threads) {
  const ModelConfig& c = weights_.config();
  const std::size_t T = limits_.max_batch_tokens, S = limits_.max_seqs;
  rope_ = RopeTable(c.seq_len, c.head_dim(), c.rope_theta);
  x_.resize(T * c.dim);
  xb_.resize(T * c.dim);
  xb2_.resize(T * c.dim);
  q_.resize(T * c.dim);
  k_.resize(T * c.kv_dim());
  v_.resize(T * c.kv_dim());
  att_out_.resize(T * c.dim);
  hb_.resize(T * c.hidden_dim);
  hb2_.resize(T * c.hidden_dim);
  att_.resize(std::size_t(pool_.num_threads()) * c.seq_len);
  row_seq_.resize(T);
  final_.resize(S * c.dim);
  logits_.resize(S * c.vocab_size);
}

kvcache::KvShape Transformer::kv_shape(int block_size) const {
  return kvcache::KvShape{config().n_layers, config().kv_dim(), block_size};
}

std::span<const float> Transformer::forward(const ForwardBatch& batch, kvcache::KvStore& kv) {
  return *forward_until(batch, kv, {});
}

std::optional<std::span<const float>> Transformer::forward_until(const ForwardBatch& batch, kvcache::KvStore& kv,
                                                                 const std::function<bool()>& stop) {
  const ModelConfig& c = config();
  const int T = batch.num_tokens(), dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim();
  assert(T <= limits_.max_batch_tokens && int(batch.seqs.size()) <= limits_.max_seqs);
  assert(kv.shape().kv_dim == kv_dim && kv.shape().n_layers == c.n_layers);
  for (std::size_t s = 0; s < batch.seqs.size(); ++s)
    for (int r = 0; r < batch.seqs[s].query_len; ++r) row_seq_[batch.seqs[s].query_start + r] = int(s);
  float* x = x_.data();  // [T × dim]

  // Token embedding: copy each token's row.
  for (int t = 0; t < T; ++t) {
    assert(batch.token_ids[t] >= 0 && batch.token_ids[t] < c.vocab_size);
    std::memcpy(x + std::size_t(t) * dim, weights_.token_embedding() + std::size_t(batch.token_ids[t]) * dim,
                dim * sizeof(float));
  }

  for (int l = 0; l < c.n_layers; ++l) {
    if (l > 0 && stop && stop()) return std::nullopt;
    const LayerWeights& w = weights_.layer(l);
    // Attention RMSNorm: xb = rmsnorm(x) row by row.
    for (int t = 0; t < T; ++t)
      rmsnorm({xb_.data() + std::size_t(t) * dim, std::size_t(dim)}, {x + std::size_t(t) * dim, std::size_t(dim)},
              {w.rms_att, std::size_t(dim)}, c.norm_eps);
    // QKV projections over all rows: q [T × dim], k/v [T × kv_dim].
    matmul(xb_.data(), w.wq, q_.data(), T, dim, dim, &pool_);
    matmul(xb_.data(), w.wk, k_.data(), T, kv_dim, dim, &pool_);
    matmul(xb_.data(), w.wv, v_.data(), T, kv_dim, dim, &pool_);
    // RoPE on q and k at each row's position, then K/V into the paged cache.
    for (int t = 0; t < T; ++t) {
      rope_.apply({q_.data() + std::size_t(t) * dim, std::size_t(dim)}, batch.positions[t]);
      rope_.apply({k_.data() + std::size_t(t) * kv_dim, std::size_t(kv_dim)}, batch.positions[t]);
    }
    write_kv(batch, kv, l);
    // Paged causal attention: att_out [T × dim].
    paged_attention(AttentionArgs{&batch, &kv, l, &c, {row_seq_.data(), std::size_t(T)}, q_.data(),
                                  att_out_.data(), att_.data()},
                    &pool_);
    // Output projection and residual: x += wo · att_out.
    matmul(att_out_.data(), w.wo, xb2_.data(), T, dim, dim, &pool_);
    for (std::size_t i = 0; i < std::size_t(T) * dim; ++i) x[i] += xb2_[i];
    // FFN RMSNorm.
    for (int t = 0; t < T; ++t)
      rmsnorm({xb_.data() + std::size_t(t) * dim, std::size_t(dim)}, {x + std::size_t(t) * dim, std::size_t(dim)},
              {w.rms_ffn, std::size_t(dim)}, c.norm_eps);
    // SwiGLU FFN: hb = silu(w1·xb) ⊙ (w3·xb)   [T × hidden]; xb2 = w2·hb   [T × dim].
    matmul(xb_.data(), w.w1, hb_.data(), T, hidden, dim, &pool_);
    matmul(xb_.data(), w.w3, hb2_.data(), T, hidden, dim, &pool_);
    pool_.parallel_for(T, [&](int t, int) {
      silu_mul({hb_.data() + std::size_t(t) * hidden, std::size_t(hidden)},
               {hb2_.data() + std::size_t(t) * hidden, std::size_t(hidden)});
    });
    matmul(hb_.data(), w.w2, xb2_.data(), T, dim, hidden, &pool_);
    // Residual.
    for (std::size_t i = 0; i < std::size_t(T) * dim; ++i) x[i] += xb2_[i];
  }
  return classify(batch);
}

void Transformer::write_kv(const ForwardBatch& batch, kvcache::KvStore& kv, int layer) {
  const int kv_dim = config().kv_dim(), bs = kv.block_size();
  for (int t = 0; t < batch.num_tokens(); ++t) {
    const SequenceSlice& s = batch.seqs[row_seq_[t]];
    const int pos = batch.positions[t];
    assert(pos >= 0 && pos < config().seq_len && pos / bs < int(s.block_table.size()));
    const BlockId b = s.block_table[pos / bs];
    std::memcpy(kv.key_block(layer, b) + std::size_t(pos % bs) * kv_dim, k_.data() + std::size_t(t) * kv_dim,
                kv_dim * sizeof(float));
    std::memcpy(kv.value_block(layer, b) + std::size_t(pos % bs) * kv_dim, v_.data() + std::size_t(t) * kv_dim,
                kv_dim * sizeof(float));
  }
}

// Final RMSNorm on the last row of each slice that needs logits, then one classifier matmul:
// logits [R × vocab].
std::span<const float> Transformer::classify(const ForwardBatch& batch) {
  const ModelConfig& c = config();
  const std::size_t dim = c.dim;
  int rows = 0;
  for (const SequenceSlice& s : batch.seqs) {
    if (!s.needs_logits) continue;
    const std::size_t last = std::size_t(s.query_start + s.query_len - 1);
    rmsnorm({final_.data() + rows * dim, dim}, {x_.data() + last * dim, dim}, {weights_.rms_final(), dim}, c.norm_eps);
    ++rows;
  }
  if (rows == 0) return {};
  matmul(final_.data(), weights_.classifier(), logits_.data(), rows, c.vocab_size, c.dim, &pool_);
  return {logits_.data(), std::size_t(rows) * c.vocab_size};
}

}  // namespace ladle::model
