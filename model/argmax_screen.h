// ArgmaxScreen: the greedy token of a row of x · Wᵀ for the fp32 classifier W, bit-for-bit the
// first maximum of what matmul(x, W) would return, while reading only the upper half of each of
// W's floats plus the few panels that could hold the maximum.
//
// Owned by the Transformer, which builds it at load (fp32 weights only) and calls argmax() from
// its step thread; not safe to call from two threads at once (it keeps scratch rows).
//
// NOTE(model): why. A one-sequence decode step streams every weight from memory once, and the
// classifier is a large share of them (110M shape: 98 of 438 MB; 15M: 37 of 61 MB). A greedy
// request needs one index, not 32000 logits. Truncating each float to its upper 16 bits (model/
// half.h's Bf16) moves it by less than 2^-7 of itself, so by Cauchy-Schwarz every approximate
// logit a_n is within B_n = c·‖x‖·‖w_n‖ of the exact one e_n, with c = 2^-7 plus both fma chains'
// worst-case rounding (2·K·2^-24) and a margin. Any n with a_n + B_n below max_j(a_j − B_j) is
// strictly below the row achieving that maximum, so it can be neither the maximum nor a tie; the
// rest (a handful for a real or a random model) are computed exactly with matmul's own kernel, so
// the winner is the very token argmax(logits) would pick. The screen reads half the classifier's
// bytes: about 11% fewer bytes per token at the 110M shape, 30% at 15M.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kvcache/ids.h"
#include "model/half.h"
#include "model/matmul.h"
#include "model/thread_pool.h"

namespace ladle::model {

class ArgmaxScreen {
 public:
  ArgmaxScreen() = default;  // decides nothing
  // Builds the upper halves and row norms of `w` (which must be fp32 panels and outlive this).
  explicit ArgmaxScreen(const PackedMatrix& w);

  bool ready() const { return upper_ != nullptr; }
  // Memory the screen holds for W (its upper halves and row norms).
  std::size_t bytes() const;

  // out[m] = the index of the first maximum of row m of x[M × K] · Wᵀ exactly as matmul() would
  // compute it, for every m < M. Returns false, with out unspecified, when it cannot decide (a
  // non-finite x or weight, or a row with so many near-maximal logits that computing them exactly
  // would cost more than the full product): the caller then computes the logits in full.
  bool argmax(const float* x, int M, TokenId* out, ThreadPool* pool);

 private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  PackedMatrix w_;                    // the fp32 panels
  std::unique_ptr<Bf16[], Free> upper_;  // w_'s panels, each float's upper half
  std::vector<double> row_norm_;      // [N] ‖w_n‖₂, rounded up
  std::vector<float> approx_;         // [M × N] x · upperᵀ
  std::vector<float> exact_;          // [N] exact logits of the candidate panels of one row
  std::vector<int> panels_;           // candidate panels of one row
};

}  // namespace ladle::model
