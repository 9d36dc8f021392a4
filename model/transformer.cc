#include "model/transformer.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "model/attention.h"
#include "model/matmul.h"

namespace ladle::model {

namespace {

// y[M×N] = x[M×K] · Wᵀ, reading W's panels at the precision the weights hold them in.
void project(const float* x, const Matrix& w, float* y, int M, int N, int K, ThreadPool* pool) {
  assert(w.packed.N == N && w.packed.K == K);
  matmul(x, w.packed, y, M, pool);
}

// y[t] += bias for each of the T rows of y [T × n].
void add_rows(float* y, const float* bias, int T, int n) {
  for (int t = 0; t < T; ++t)
    for (int i = 0; i < n; ++i) y[std::size_t(t) * n + i] += bias[i];
}

}  // namespace

Expected<std::unique_ptr<Transformer>> Transformer::load(const std::string& path, RuntimeLimits limits) {
  auto weights = Weights::load(path);
  if (!weights.ok()) return weights.error();
  return create(std::move(weights).value(), limits);
}

Expected<std::unique_ptr<Transformer>> Transformer::create(Weights weights, RuntimeLimits limits) {
  if (limits.max_batch_tokens <= 0 || limits.max_seqs <= 0)
    return make_error(ErrorCode::kInvalidArgument, "runtime limits: max_batch_tokens and max_seqs must be positive");
  if (limits.max_seqs > limits.max_batch_tokens) limits.max_seqs = limits.max_batch_tokens;
  if (auto st = weights.convert(limits.weights, limits.q8_activations); !st) return st.error();
  std::unique_ptr<Transformer> model(new Transformer(std::move(weights), limits));
  // NOTE(model): the one line the model layer prints: what a model costs is known only once its
  // matrices are packed and its buffers allocated, and a server sizes its KV cache from what is left.
  std::fprintf(stderr, "ladle: model memory: %s\n",
               model->memory().describe(weight_type_name(model->weights().type())).c_str());
  return model;
}

ModelMemory Transformer::memory() const {
  const ModelConfig& c = config();
  ModelMemory m;
  // bytes_per_token() counts every matrix once at its type's width plus one embedding row.
  m.file_weights = weights_.native_bytes();
  m.packed_weights = weights_.bytes_per_token() - std::size_t(c.dim) * sizeof(float) - m.file_weights;
  m.embedding = weights_.embedding_bytes();
  for (const std::vector<float>* b : {&x_, &xb_, &xb2_, &q_, &k_, &v_, &att_out_, &hb_, &hb2_, &final_, &logits_})
    m.step_buffers += b->capacity() * sizeof(float);
  m.step_buffers += row_seq_.capacity() * sizeof(std::int32_t) + rope_.bytes();
  m.argmax_screen = screen_.bytes();
  m.resident = process_resident_bytes();
  return m;
}

Transformer::Transformer(Weights weights, RuntimeLimits limits)
    : weights_(std::move(weights)), limits_(limits), pool_(limits.threads) {
  const ModelConfig& c = weights_.config();
  const std::size_t T = limits_.max_batch_tokens, S = limits_.max_seqs;
  rope_ = RopeTable(c);
  x_.resize(T * c.dim);
  xb_.resize(T * c.dim);
  xb2_.resize(T * c.dim);
  q_.resize(T * c.dim);
  k_.resize(T * c.kv_dim());
  v_.resize(T * c.kv_dim());
  att_out_.resize(T * c.dim);
  hb_.resize(T * c.hidden_dim);
  hb2_.resize(T * c.hidden_dim);
  row_seq_.resize(T);
  final_.resize(S * c.dim);
  logits_.resize(S * c.vocab_size);
  const PackedMatrix& classifier = weights_.classifier().packed;
  const bool big_enough = classifier.f16 == nullptr ||
                          packed_elements(classifier.N, classifier.K) * sizeof(Half) >= limits_.min_half_screen_bytes;
  if (limits_.argmax_screen && big_enough) screen_ = ArgmaxScreen(classifier);
}

kvcache::KvShape Transformer::kv_shape(int block_size, kvcache::KvDtype dtype) const {
  return kvcache::KvShape{config().n_layers, config().kv_dim(), block_size, dtype};
}

std::span<const float> Transformer::forward(const ForwardBatch& batch, kvcache::KvStore& kv) {
  return run(batch, kv, {}, false).logits;
}

Transformer::StepResult Transformer::forward_dropping(const ForwardBatch& batch, kvcache::KvStore& kv,
                                                      const DropFn& drop) {
  return run(batch, kv, drop, true);
}

void Transformer::map_rows(const ForwardBatch& batch) {
  for (std::size_t s = 0; s < batch.seqs.size(); ++s)
    for (int r = 0; r < batch.seqs[s].query_len; ++r) row_seq_[batch.seqs[s].query_start + r] = int(s);
}

int Transformer::compact(ForwardBatch& cur, std::vector<int>& origin, const std::vector<bool>& dropped) {
  const std::size_t dim = std::size_t(config().dim);
  ForwardBatch next;
  std::vector<int> next_origin;
  for (std::size_t i = 0; i < cur.seqs.size(); ++i) {
    if (dropped[origin[i]]) continue;
    SequenceSlice slice = std::move(cur.seqs[i]);
    const int from = slice.query_start;
    slice.query_start = next.num_tokens();
    // Survivors only move down, in order, so a move never overwrites rows still to be moved.
    if (slice.query_start != from)
      std::memmove(x_.data() + std::size_t(slice.query_start) * dim, x_.data() + std::size_t(from) * dim,
                   std::size_t(slice.query_len) * dim * sizeof(float));
    next.token_ids.insert(next.token_ids.end(), cur.token_ids.begin() + from, cur.token_ids.begin() + from + slice.query_len);
    next.positions.insert(next.positions.end(), cur.positions.begin() + from, cur.positions.begin() + from + slice.query_len);
    next.seqs.push_back(std::move(slice));
    next_origin.push_back(origin[i]);
  }
  cur = std::move(next);
  origin = std::move(next_origin);
  map_rows(cur);
  return cur.num_tokens();
}

Transformer::StepResult Transformer::run(const ForwardBatch& input, kvcache::KvStore& kv, const DropFn& drop,
                                         bool screen) {
  const ModelConfig& c = config();
  const int dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim();
  StepResult result;
  result.dropped.assign(input.seqs.size(), false);
  // The batch as it stands: `input` until a slice is dropped, then `compacted`, whose slice i is
  // input slice origin[i].
  const ForwardBatch* cur = &input;
  ForwardBatch compacted;
  std::vector<int> origin;
  int T = input.num_tokens();
  assert(T <= limits_.max_batch_tokens && int(input.seqs.size()) <= limits_.max_seqs);
  assert(kv.shape().kv_dim == kv_dim && kv.shape().n_layers == c.n_layers);
  map_rows(input);
  float* x = x_.data();  // [T × dim]

  // Token embedding: copy each token's row.
  for (int t = 0; t < T; ++t) {
    assert(input.token_ids[t] >= 0 && input.token_ids[t] < c.vocab_size);
    weights_.embedding_row(input.token_ids[t], x + std::size_t(t) * dim);
  }

  for (int l = 0; l < c.n_layers; ++l) {
    if (l > 0 && drop) {
      bool any = false;
      for (int s : drop())
        if (s >= 0 && s < int(input.seqs.size()) && !result.dropped[s]) any = result.dropped[s] = true;
      if (any) {
        if (cur == &input) {
          compacted = input;
          origin.resize(input.seqs.size());
          for (std::size_t i = 0; i < origin.size(); ++i) origin[i] = int(i);
          cur = &compacted;
        }
        T = compact(compacted, origin, result.dropped);
        if (T == 0) return result;
      }
    }
    const LayerWeights& w = weights_.layer(l);
    // Attention RMSNorm: xb = rmsnorm(x) row by row.
    for (int t = 0; t < T; ++t)
      rmsnorm({xb_.data() + std::size_t(t) * dim, std::size_t(dim)}, {x + std::size_t(t) * dim, std::size_t(dim)},
              {w.rms_att, std::size_t(dim)}, c.norm_eps);
    // QKV projections over all rows: q [T × dim], k/v [T × kv_dim].
    project(xb_.data(), w.wq, q_.data(), T, dim, dim, &pool_);
    project(xb_.data(), w.wk, k_.data(), T, kv_dim, dim, &pool_);
    project(xb_.data(), w.wv, v_.data(), T, kv_dim, dim, &pool_);
    // Q/K/V biases (qwen2).
    if (c.qkv_bias) {
      add_rows(q_.data(), w.bq, T, dim);
      add_rows(k_.data(), w.bk, T, kv_dim);
      add_rows(v_.data(), w.bv, T, kv_dim);
    }
    // RoPE on q and k at each row's position, then K/V into the paged cache.
    for (int t = 0; t < T; ++t) {
      rope_.apply({q_.data() + std::size_t(t) * dim, std::size_t(dim)}, cur->positions[t]);
      rope_.apply({k_.data() + std::size_t(t) * kv_dim, std::size_t(kv_dim)}, cur->positions[t]);
    }
    write_kv(*cur, kv, l);
    // Paged causal attention: att_out [T × dim].
    paged_attention(AttentionArgs{cur, &kv, l, &c, {row_seq_.data(), std::size_t(T)}, q_.data(),
                                  att_out_.data()},
                    &pool_);
    // Output projection and residual: x += wo · att_out.
    project(att_out_.data(), w.wo, xb2_.data(), T, dim, dim, &pool_);
    for (std::size_t i = 0; i < std::size_t(T) * dim; ++i) x[i] += xb2_[i];
    // FFN RMSNorm.
    for (int t = 0; t < T; ++t)
      rmsnorm({xb_.data() + std::size_t(t) * dim, std::size_t(dim)}, {x + std::size_t(t) * dim, std::size_t(dim)},
              {w.rms_ffn, std::size_t(dim)}, c.norm_eps);
    // SwiGLU FFN: hb = silu(w1·xb) ⊙ (w3·xb)   [T × hidden]; xb2 = w2·hb   [T × dim].
    project(xb_.data(), w.w1, hb_.data(), T, hidden, dim, &pool_);
    project(xb_.data(), w.w3, hb2_.data(), T, hidden, dim, &pool_);
    pool_.parallel_for(T, [&](int t, int) {
      silu_mul({hb_.data() + std::size_t(t) * hidden, std::size_t(hidden)},
               {hb2_.data() + std::size_t(t) * hidden, std::size_t(hidden)});
    });
    project(hb_.data(), w.w2, xb2_.data(), T, dim, hidden, &pool_);
    // Residual.
    for (std::size_t i = 0; i < std::size_t(T) * dim; ++i) x[i] += xb2_[i];
  }
  classify(*cur, screen, result);
  return result;
}

namespace {

// dst[0, n) = src as halves. A finite value beyond the half range (|x| >= 65520) is stored as
// ±65504 rather than ±inf: one outsized activation should cost precision, not turn the softmax
// into NaN. inf and NaN stay what they are, as the fp32 cache would keep them.
void store_halves(const float* src, Half* dst, int n) {
  const std::size_t first_bad = floats_to_halves({src, std::size_t(n)}, {dst, std::size_t(n)});
  for (std::size_t i = first_bad; i < std::size_t(n); ++i)
    if (std::isfinite(src[i]) && (dst[i] & 0x7fff) == 0x7c00) dst[i] = Half((dst[i] & 0x8000) | 0x7bff);
}

}  // namespace

void Transformer::write_kv(const ForwardBatch& batch, kvcache::KvStore& kv, int layer) {
  const int kv_dim = config().kv_dim(), bs = kv.block_size();
  const bool half = kv.dtype() == kvcache::KvDtype::kF16;
  for (int t = 0; t < batch.num_tokens(); ++t) {
    const SequenceSlice& s = batch.seqs[row_seq_[t]];
    const int pos = batch.positions[t];
    assert(pos >= 0 && pos < config().seq_len && pos / bs < int(s.block_table.size()));
    const BlockId b = s.block_table[pos / bs];
    const std::size_t slot = std::size_t(pos % bs) * kv_dim;
    const float* k = k_.data() + std::size_t(t) * kv_dim;
    const float* v = v_.data() + std::size_t(t) * kv_dim;
    if (half) {
      store_halves(k, kv.key_block<Half>(layer, b) + slot, kv_dim);
      store_halves(v, kv.value_block<Half>(layer, b) + slot, kv_dim);
    } else {
      std::memcpy(kv.key_block(layer, b) + slot, k, kv_dim * sizeof(float));
      std::memcpy(kv.value_block(layer, b) + slot, v, kv_dim * sizeof(float));
    }
  }
}

// Final RMSNorm on the rows that need logits (the last row of a slice, or all of them), then one
// classifier matmul: logits [R × vocab], or R greedy tokens through the screen.
void Transformer::classify(const ForwardBatch& batch, bool screen, StepResult& result) {
  const ModelConfig& c = config();
  const std::size_t dim = c.dim;
  const std::size_t wanted = std::max<std::size_t>(std::size_t(batch.num_logit_rows()), std::size_t(limits_.max_seqs));
  // NOTE(model): prompt log-probabilities may want a logit row per prompt token (up to
  // max_batch_tokens × vocab floats: 262 MB at 2048 × 32000). That room is taken only for such a
  // step and given back at the next step without it, so the usual S rows are all a server keeps.
  if (final_.size() != wanted * dim) {
    final_.resize(wanted * dim);
    final_.shrink_to_fit();
    logits_.resize(wanted * std::size_t(c.vocab_size));
    logits_.shrink_to_fit();
  }
  int rows = 0;
  bool all_greedy = true;
  for (const SequenceSlice& s : batch.seqs) {
    const int n = s.num_logit_rows();
    for (int r = s.query_len - n; r < s.query_len; ++r) {
      const std::size_t row = std::size_t(s.query_start + r);
      rmsnorm({final_.data() + rows * dim, dim}, {x_.data() + row * dim, dim}, {weights_.rms_final(), dim}, c.norm_eps);
      ++rows;
    }
    all_greedy = all_greedy && (n == 0 || (s.argmax_only && !s.all_logits));
  }
  if (rows == 0) return;
  if (screen && all_greedy && rows <= kMaxScreenRows) {
    result.greedy.resize(std::size_t(rows));
    if (screen_.argmax(final_.data(), rows, result.greedy.data(), &pool_)) return;
    result.greedy.clear();
  }
  project(final_.data(), weights_.classifier(), logits_.data(), rows, c.vocab_size, c.dim, &pool_);
  result.logits = {logits_.data(), std::size_t(rows) * c.vocab_size};
}

}  // namespace ladle::model
