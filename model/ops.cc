#include "model/ops.h"

#include <cassert>
#include <cmath>

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

void silu_mul(std::span<float> a, std::span<const float> b) {
  assert(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    float v = a[i];
    v *= 1.0f / (1.0f + std::exp(-v));
    a[i] = v * b[i];
  }
}

RopeTable::RopeTable(int seq_len, int head_dim, float theta) : head_dim_(head_dim) {
  table_.resize(std::size_t(seq_len) * head_dim);
  for (int pos = 0; pos < seq_len; ++pos)
    for (int i = 0; i < head_dim; i += 2) {
      const float freq = 1.0f / std::pow(theta, float(i) / float(head_dim));
      const float val = float(pos) * freq;
      table_[std::size_t(pos) * head_dim + i] = std::cos(val);
      table_[std::size_t(pos) * head_dim + i + 1] = std::sin(val);
    }
}

void RopeTable::apply(std::span<float> vec, int pos) const {
  assert(vec.size() % head_dim_ == 0);
  const float* row = table_.data() + std::size_t(pos) * head_dim_;
  for (std::size_t h = 0; h < vec.size(); h += head_dim_)
    for (int i = 0; i < head_dim_; i += 2) {
      const float fcr = row[i], fci = row[i + 1];
      const float v0 = vec[h + i], v1 = vec[h + i + 1];
      vec[h + i] = v0 * fcr - v1 * fci;
      vec[h + i + 1] = v0 * fci + v1 * fcr;
    }
}

}  // namespace ladle::model
