// Small pure kernels of the llama2.c recipe, on plain float rows: RMSNorm, RoPE, softmax and the
// SwiGLU gate. Free functions with no state; callable from any thread.
//
// Each one computes as run.c does, element by element in index order (silu_mul with its own
// vectorised exp), so that results depend only on the row itself (never on what else is in the
// batch).
#pragma once

#include <span>
#include <vector>

#include "model/config.h"

namespace ladle::model {

// out[i] = weight[i] * (x[i] / sqrt(mean(x²) + eps)); out may alias x.
void rmsnorm(std::span<float> out, std::span<const float> x, std::span<const float> weight, float eps);

// In-place softmax of x (max-subtracted, as run.c).
void softmax(std::span<float> x);

// a[i] = silu(a[i]) * b[i]   (the SwiGLU gate: silu(w1·x) ⊙ (w3·x)).
// e^x is vec8's polynomial (a few ulp from expf); the AVX2 build unless the active ISA level
// (model/isa.h) is portable, the same bits either way.
void silu_mul(std::span<float> a, std::span<const float> b);

// RoPE cos/sin table for positions [0, seq_len): row p holds head_dim/2 (cos, sin) pairs with
// the angle p · theta^(-2i/head_dim), computed in float exactly as run.c computes it on the fly;
// with frequency factors the angle is then divided by factors[i], and with a frequency scale
// other than 1 multiplied by it, in that order, as ggml's rope does (rope_yarn without its
// extrapolation mix).
class RopeTable {
 public:
  RopeTable() = default;
  RopeTable(int seq_len, int head_dim, float theta, RopeStyle style = RopeStyle::kAdjacentPairs,
            float freq_scale = 1.0f, std::span<const float> factors = {});
  // The table of `config` (its seq_len, head size, rope_theta, style, scale and factors).
  explicit RopeTable(const ModelConfig& config);

  // Rotates pair i of every head in `vec` (n_heads × head_dim floats) by position `pos`: the
  // adjacent (x[2i], x[2i+1]) or the halves' (x[i], x[i + head_dim/2]), as the style says.
  void apply(std::span<float> vec, int pos) const;
  int head_dim() const { return head_dim_; }
  std::size_t bytes() const { return table_.size() * sizeof(float); }

 private:
  int head_dim_ = 0;
  RopeStyle style_ = RopeStyle::kAdjacentPairs;
  std::vector<float> table_;  // [seq_len][head_dim/2][2] = (cos, sin)
};

}  // namespace ladle::model
