// ArgmaxScreen: the greedy token of a row of x · Wᵀ for the classifier W (fp32 or half panels),
// bit-for-bit the first maximum of what matmul(x, W) would return, while reading W as one byte
// per weight plus the few panels that could hold the maximum.
//
// Owned by the Transformer, which builds it at load and calls argmax() from its step thread; not
// safe to call from two threads at once (it keeps scratch rows).
//
// NOTE(model): why. A one-sequence decode step streams every weight from memory once, and the
// classifier is a large share of them (110M shape: 98 of 438 MB; 15M: 37 of 61 MB). A greedy
// request needs one index, not 32000 logits. The screen holds W quantized to int8, row n as
// s_n · q_n with s_n = max|w_n| / 127, so each weight is off by at most s_n / 2 and every screened
// logit a_n = s_n · (x · q_n) is within B_n = s_n · ‖x‖₁ · (1/2 + 2·127·γ_K) (plus a margin) of the
// exact one e_n, γ_K = K·2^-24 / (1 − K·2^-24) bounding each fma chain's rounding. Any n with
// a_n + B_n below max_j(a_j − B_j) is strictly below the row achieving that maximum, so it can be
// neither the maximum nor a tie; the rest (a handful for a real or a random model) are computed
// exactly with matmul's own kernel, so the winner is the very token argmax(logits) would pick.
// The screen reads a quarter of the classifier's bytes: 17% fewer bytes per token at the 110M
// shape, 45% at 15M. Half weights are exact floats, so the same bound holds for them; the screen
// reads half of a half classifier's bytes (11% fewer per token at 110M), and the Transformer uses
// it there only for classifiers that stream from memory (RuntimeLimits::min_half_screen_bytes).
//
// NOTE(q8): with `--weights q8` the classifier itself is int8 (1.0625 bytes per weight), so a
// screen would read as many bytes as the full product and then some: a q8 classifier builds no
// screen (ready() stays false, argmax() declines, the Transformer computes the logits in full), and
// greedy decoding takes the first maximum of the q8 logits, which is what sampling sees too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kvcache/ids.h"
#include "model/matmul.h"
#include "model/streamed_buffer.h"
#include "model/thread_pool.h"

namespace ladle::model {

class ArgmaxScreen {
 public:
  ArgmaxScreen() = default;  // decides nothing
  // Builds the int8 panels and row scales of `w` (fp32 or half panels, which must outlive this);
  // for q8 panels it builds nothing (see the NOTE above).
  explicit ArgmaxScreen(const PackedMatrix& w);

  bool ready() const { return q_ != nullptr; }
  // Memory the screen holds for W (its int8 panels and per-row scales and bounds).
  std::size_t bytes() const;

  // out[m] = the index of the first maximum of row m of x[M × K] · Wᵀ exactly as matmul() would
  // compute it, for every m < M. Returns false, with out unspecified, when it cannot decide (a
  // non-finite x or weight, or a row with so many near-maximal logits that computing them exactly
  // would cost more than the full product): the caller then computes the logits in full.
  bool argmax(const float* x, int M, TokenId* out, ThreadPool* pool);

 private:
  PackedMatrix w_;                    // the exact panels (fp32 or half)
  StreamedBuffer q_;                  // int8: w_'s panels quantized, row n to q_n = round(w_n / s_n)
  std::vector<float> scale_;          // [N] s_n (0 for a row too small to quantize)
  std::vector<double> bound_;         // [N] B_n / ‖x‖₁, rounded up
  std::vector<float> approx_;         // [M × N] x · upperᵀ
  std::vector<float> exact_;          // [N] exact logits of the candidate panels of one row
  std::vector<int> panels_;           // candidate panels of one row
};

}  // namespace ladle::model
