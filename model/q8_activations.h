// q8_activations: how the `--weights q8` kernels read the activations x, and x quantized for the
// int8 ones: each row, block by block of kQ8Block along K, to ggml's Q8_0 numbers
// (quantize_row_q8_0_ref: int8 q with a half scale d, model/q8_panels.h's q8_quantize_block).
//
// With kInt8 an output is, per block b in order from acc = 0 (model/matmul.h's NOTE(q8)):
//   isum_b = Σ qx[k] · qw[k] over the block's k (int32, exact at any order),
//   acc = fma(float(isum_b), dx_b · dw_b, acc)   (dx_b · dw_b one float multiply),
// the same float operations in the same order in every kernel, so every ISA gives the same bits.
// A row is quantized on its own, once per matmul call, so rows stay batch invariant.
//
// Free functions, no state; any thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"

namespace ladle::model {

// kInt8: x quantized to Q8_0, int8 × int8 dot products summed in int32 per block (as llama.cpp);
// kFloat: x stays fp32, the int8 weights widened into fp32 fma chains.
enum class Q8Activations { kInt8, kFloat };

// "int8" or "float".
const char* q8_activations_name(Q8Activations a);
// "int8" | "float" → the mode; anything else is kInvalidArgument naming the accepted values.
Expected<Q8Activations> parse_q8_activations(std::string_view name);

// M rows of x quantized: row m's block b holds kQ8Block int8 at q[(m·blocks + b)·kQ8Block ..]
// (zero past K) and its scale, the half d widened, at d[m·blocks + b].
struct Q8Rows {
  int M = 0, K = 0, blocks = 0;
  std::vector<std::int8_t> q;
  std::vector<float> d;
  const std::int8_t* row_q(int m) const { return q.data() + std::size_t(m) * blocks * 32; }
  const float* row_d(int m) const { return d.data() + std::size_t(m) * blocks; }
};

// Quantizes x [M × K] into `out` (its buffers grown as needed, never shrunk). A block with a value
// that is not finite gets q = 0 and d = NaN, so its outputs are NaN as the float path's would be.
void quantize_activations(const float* x, int M, int K, Q8Rows& out);

}  // namespace ladle::model
