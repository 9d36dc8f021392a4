// runc_reference_bench: single-stream greedy decode, ladle's engine against a run.c-style decoder
// measured side by side in one process, on the same checkpoint.
//
// The reference is written here from the llama2.c architecture, in run.c's way: fp32 weights read
// in place, every matmul a row-by-row dot product split across threads with `#pragma omp parallel
// for`, attention over a contiguous per-layer K/V cache, and this file alone is compiled with
// -Ofast -march=native -fopenmp (run.c's recommended build), so the compiler may vectorise and
// reorder its reductions. ladle runs its normal Transformer::forward (paged cache, own kernel) with
// one decode token per step and greedy argmax. The two alternate in rounds, so a noisy neighbour
// hurts both alike; the ratio is the figure to read.
//
// usage: runc_reference_bench MODEL.bin [--tokens 256] [--rounds 3] [--threads 2] [--weights f32|f16|q8]
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kvcache/kv_store.h"
#include "model/sampler.h"
#include "model/transformer.h"
#include "model/weights.h"

namespace {

using ladle::model::ModelConfig;
using ladle::model::Weights;

// ---- the run.c-style decoder -------------------------------------------------------------------

void rmsnorm_ref(float* o, const float* x, const float* w, int n) {
  float ss = 0.0f;
  for (int i = 0; i < n; ++i) ss += x[i] * x[i];
  ss = 1.0f / std::sqrt(ss / float(n) + 1e-5f);
  for (int i = 0; i < n; ++i) o[i] = w[i] * (ss * x[i]);
}

// out[d] = W[d×n] · x[n], rows split across the OpenMP team.
void matvec_ref(float* out, const float* x, const float* w, int n, int d) {
#pragma omp parallel for
  for (int i = 0; i < d; ++i) {
    float v = 0.0f;
    const float* row = w + std::size_t(i) * n;
    for (int j = 0; j < n; ++j) v += row[j] * x[j];
    out[i] = v;
  }
}

class ReferenceDecoder {
 public:
  explicit ReferenceDecoder(const Weights& w) : w_(w), c_(w.config()) {
    const int dim = c_.dim, kv = c_.kv_dim();
    x_.resize(dim); xb_.resize(dim); xb2_.resize(dim); q_.resize(dim);
    hb_.resize(c_.hidden_dim); hb2_.resize(c_.hidden_dim);
    att_.resize(std::size_t(c_.n_heads) * c_.seq_len);
    logits_.resize(c_.vocab_size);
    kcache_.resize(std::size_t(c_.n_layers) * c_.seq_len * kv);
    vcache_.resize(std::size_t(c_.n_layers) * c_.seq_len * kv);
  }

  const float* forward(int token, int pos) {
    const int dim = c_.dim, kv_dim = c_.kv_dim(), hd = c_.head_dim(), hidden = c_.hidden_dim;
    const int group = c_.n_heads / c_.n_kv_heads;
    std::memcpy(x_.data(), w_.token_embedding() + std::size_t(token) * dim, dim * sizeof(float));
    for (int l = 0; l < c_.n_layers; ++l) {
      const auto& lw = w_.layer(l);
      rmsnorm_ref(xb_.data(), x_.data(), lw.rms_att, dim);
      float* k = kcache_.data() + (std::size_t(l) * c_.seq_len + pos) * kv_dim;
      float* v = vcache_.data() + (std::size_t(l) * c_.seq_len + pos) * kv_dim;
      matvec_ref(q_.data(), xb_.data(), lw.wq.f32, dim, dim);
      matvec_ref(k, xb_.data(), lw.wk.f32, dim, kv_dim);
      matvec_ref(v, xb_.data(), lw.wv.f32, dim, kv_dim);
      for (int i = 0; i < dim; i += 2) {  // RoPE, rotating pairs within each head
        const float freq = 1.0f / std::pow(10000.0f, float(i % hd) / float(hd));
        const float a = float(pos) * freq, cr = std::cos(a), ci = std::sin(a);
        for (float* vec : {q_.data(), k}) {
          if (vec == k && i >= kv_dim) break;
          const float v0 = vec[i], v1 = vec[i + 1];
          vec[i] = v0 * cr - v1 * ci;
          vec[i + 1] = v0 * ci + v1 * cr;
        }
      }
      const float* kl = kcache_.data() + std::size_t(l) * c_.seq_len * kv_dim;
      const float* vl = vcache_.data() + std::size_t(l) * c_.seq_len * kv_dim;
#pragma omp parallel for
      for (int h = 0; h < c_.n_heads; ++h) {
        const float* qh = q_.data() + h * hd;
        float* att = att_.data() + std::size_t(h) * c_.seq_len;
        const int off = (h / group) * hd;
        float mx = -INFINITY;
        for (int t = 0; t <= pos; ++t) {
          float s = 0.0f;
          for (int i = 0; i < hd; ++i) s += qh[i] * kl[std::size_t(t) * kv_dim + off + i];
          att[t] = s / std::sqrt(float(hd));
          mx = std::max(mx, att[t]);
        }
        float sum = 0.0f;
        for (int t = 0; t <= pos; ++t) sum += att[t] = std::exp(att[t] - mx);
        float* out = xb_.data() + h * hd;
        for (int i = 0; i < hd; ++i) out[i] = 0.0f;
        for (int t = 0; t <= pos; ++t) {
          const float a = att[t] / sum;
          for (int i = 0; i < hd; ++i) out[i] += a * vl[std::size_t(t) * kv_dim + off + i];
        }
      }
      matvec_ref(xb2_.data(), xb_.data(), lw.wo.f32, dim, dim);
      for (int i = 0; i < dim; ++i) x_[i] += xb2_[i];
      rmsnorm_ref(xb_.data(), x_.data(), lw.rms_ffn, dim);
      matvec_ref(hb_.data(), xb_.data(), lw.w1.f32, dim, hidden);
      matvec_ref(hb2_.data(), xb_.data(), lw.w3.f32, dim, hidden);
      for (int i = 0; i < hidden; ++i) hb_[i] = hb_[i] / (1.0f + std::exp(-hb_[i])) * hb2_[i];
      matvec_ref(xb_.data(), hb_.data(), lw.w2.f32, hidden, dim);
      for (int i = 0; i < dim; ++i) x_[i] += xb_[i];
    }
    rmsnorm_ref(x_.data(), x_.data(), w_.rms_final(), dim);
    matvec_ref(logits_.data(), x_.data(), w_.classifier().f32, dim, c_.vocab_size);
    return logits_.data();
  }

 private:
  const Weights& w_;
  ModelConfig c_;
  std::vector<float> x_, xb_, xb2_, q_, hb_, hb2_, att_, logits_, kcache_, vcache_;
};

// ---- timing ------------------------------------------------------------------------------------

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Greedy decode of `n` tokens from BOS; returns tokens/s over the decode.
double run_reference(const Weights& w, int n) {
  ReferenceDecoder dec(w);
  const int vocab = w.config().vocab_size;
  int token = 1;
  const auto t0 = std::chrono::steady_clock::now();
  for (int pos = 0; pos < n; ++pos) {
    const float* logits = dec.forward(token, pos);
    token = ladle::model::argmax({logits, std::size_t(vocab)});
  }
  return n / seconds_since(t0);
}

double run_ladle(ladle::model::Transformer& m, int n) {
  const int bs = 16, blocks = (n + bs - 1) / bs;
  ladle::kvcache::KvStore kv(m.kv_shape(bs), blocks);
  ladle::BlockTable table;
  for (int b = 0; b < blocks; ++b) table.push_back(b);
  int token = 1;
  const auto t0 = std::chrono::steady_clock::now();
  for (int pos = 0; pos < n; ++pos) {
    ladle::model::ForwardBatch b{{token}, {pos}, {{0, 1, pos + 1, table, true}}};
    token = ladle::model::argmax(m.forward(b, kv));
  }
  return n / seconds_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: runc_reference_bench MODEL.bin [--tokens 256] [--rounds 3] [--threads 2]\n");
    return argc < 2 ? 2 : 0;
  }
  const std::string path = argv[1];
  int tokens = 256, rounds = 3, threads = 2;
  ladle::model::WeightType weights = ladle::model::WeightType::kF32;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string f = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (f == "--weights") {
      auto type = ladle::model::parse_weight_type(argv[i + 1]);
      if (!type) {
        std::fprintf(stderr, "%s\n", type.error().message.c_str());
        return 2;
      }
      weights = *type;
    } else if (f == "--tokens") tokens = v;
    else if (f == "--rounds") rounds = v;
    else if (f == "--threads") threads = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", f.c_str());
      return 2;
    }
  }
  auto ref_weights = Weights::load(path);
  auto model = ladle::model::Transformer::load(path, {16, 1, threads, weights});
  if (!ref_weights.ok() || !model.ok()) {
    std::fprintf(stderr, "cannot load %s\n", path.c_str());
    return 1;
  }
  const ModelConfig& c = ref_weights->config();
  tokens = std::min(tokens, c.seq_len);
  omp_set_num_threads(threads);
  const double mb = double((*model)->weights().bytes_per_token()) / 1e6;
  std::printf("%s: dim %d, %d layers, vocab %d; %d greedy tokens from BOS, %d threads, %.1f MB of %s weights per token\n",
              path.c_str(), c.dim, c.n_layers, c.vocab_size, tokens, threads, mb,
              ladle::model::weight_type_name((*model)->weights().type()));
  std::printf("| round | run.c-style tok/s | ladle tok/s | ladle / run.c-style |\n| --- | --- | --- | --- |\n");
  for (int r = 1; r <= rounds; ++r) {
    const double ref = run_reference(*ref_weights, tokens);
    const double ours = run_ladle(**model, tokens);
    std::printf("| %d | %.1f | %.1f | %.2f |\n", r, ref, ours, ours / ref);
    std::fflush(stdout);
  }
  return 0;
}
