#include "model/ops.h"

#include <cassert>
#include <cmath>

#include "model/isa.h"
#include "model/vec8.h"

namespace ladle::model {

void rmsnorm(std::span<float> out, std::span<const float> x, std::span<const float> weight, float eps) {
  assert(out.size() == x.size() && weight.size() == x.size());
  float ss = 0.0f;
  for (float v : x) ss += v * v;
  ss /= float(x.size());
  ss += eps;
  ss = 1.0f / std::sqrt(ss);
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = weight[i] * (ss * x[i]);
}

void softmax(std::span<float> x) {
  if (x.empty()) return;
  float max_val = x[0];
  for (float v : x) max_val = v > max_val ? v : max_val;
  float sum = 0.0f;
  for (float& v : x) {
    v = std::exp(v - max_val);
    sum += v;
  }
  for (float& v : x) v /= sum;
}

namespace {

using namespace vec8;

// silu(a)·b eight at a time: a·(1/(1 + e^-a))·b, in run.c's order of operations but with vec8's
// exp (a few ulp from expf). Every element is computed alone, by the same operations whatever
// its lane, so a row's result does not depend on its length or alignment.
LADLE_INLINE void silu_mul_body(float* a, const float* b, std::size_t n) {
  for (std::size_t i = 0; i < n; i += 8) {
    const int m = n - i < 8 ? int(n - i) : 8;
    V8 v = m == 8 ? load8(a + i) : load_n(a + i, m);
    const V8 w = m == 8 ? load8(b + i) : load_n(b + i, m);
    v = v * (splat(1.0f) / (splat(1.0f) + exp8(-v)));
    store_n(a + i, v * w, m);
  }
}

[[gnu::target("avx2")]] void silu_mul_avx2(float* a, const float* b, std::size_t n) { silu_mul_body(a, b, n); }
void silu_mul_baseline(float* a, const float* b, std::size_t n) { silu_mul_body(a, b, n); }

}  // namespace

// NOTE(model): the gate was the tiny model's third-biggest cost after attention and the matmuls
// with a scalar expf and a division per element (12 % of a 32-sequence step); vectorised, both
// builds give the same bits (tests/model/ops_test.cc).
void silu_mul(std::span<float> a, std::span<const float> b) {
  assert(a.size() == b.size());
  // The AVX-512 level runs the AVX2 build, as attention does (model/attention.cc's NOTE).
  if (active_isa() == Isa::kPortable) silu_mul_baseline(a.data(), b.data(), a.size());
  else silu_mul_avx2(a.data(), b.data(), a.size());
}

RopeTable::RopeTable(int seq_len, int head_dim, float theta, RopeStyle style, float freq_scale,
                     std::span<const float> factors)
    : head_dim_(head_dim), style_(style) {
  assert(factors.empty() || int(factors.size()) == head_dim / 2);
  table_.resize(std::size_t(seq_len) * head_dim);
  for (int pos = 0; pos < seq_len; ++pos)
    for (int i = 0; i < head_dim; i += 2) {
      const float freq = 1.0f / std::pow(theta, float(i) / float(head_dim));
      float val = float(pos) * freq;
      if (!factors.empty()) val /= factors[std::size_t(i / 2)];
      if (freq_scale != 1.0f) val *= freq_scale;
      table_[std::size_t(pos) * head_dim + i] = std::cos(val);
      table_[std::size_t(pos) * head_dim + i + 1] = std::sin(val);
    }
}

RopeTable::RopeTable(const ModelConfig& c)
    : RopeTable(c.seq_len, c.head_dim(), c.rope_theta, c.rope_style, c.rope_freq_scale, c.rope_freq_factors) {}

void RopeTable::apply(std::span<float> vec, int pos) const {
  assert(vec.size() % head_dim_ == 0);
  const float* row = table_.data() + std::size_t(pos) * head_dim_;
  // Pair i is (x[lo], x[hi]): adjacent, or half a head apart.
  const int half = head_dim_ / 2;
  const bool halves = style_ == RopeStyle::kHalves;
  for (std::size_t h = 0; h < vec.size(); h += head_dim_)
    for (int i = 0; i < half; ++i) {
      const float fcr = row[2 * i], fci = row[2 * i + 1];
      const std::size_t lo = h + (halves ? i : 2 * i), hi = lo + (halves ? half : 1);
      const float v0 = vec[lo], v1 = vec[hi];
      vec[lo] = v0 * fcr - v1 * fci;
      vec[hi] = v0 * fci + v1 * fcr;
    }
}

}  // namespace ladle::model
