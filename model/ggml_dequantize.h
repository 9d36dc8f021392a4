// ggml_dequantize: ggml tensor data (F32, F16, BF16, Q8_0, Q4_0) widened to floats, value for value
// what ggml's dequantize_row_* (ggml-quants.c) computes, so a quantized GGUF loads as exactly the
// model llama.cpp runs. Free functions, no state; any thread.
//
// NOTE(gguf): every value is exact in float: a half or bfloat16 widens exactly, and a Q8_0 / Q4_0
// value is a small integer (|q| <= 128) times the block's half scale, an 8 × 11-bit product that
// needs at most 19 significant bits. The K-quants (issue 24) join here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ladle::model {

// Whether dequantize() reads ggml type id `type`.
bool can_dequantize(std::uint32_t type);

// Writes the `n` floats held by `src` in `type` to `dst`. `n` must be a whole number of the type's
// blocks (GgufFile checks every row is) and `src` must hold their bytes; `src` may be unaligned.
void dequantize(std::uint32_t type, const std::byte* src, float* dst, std::size_t n);

}  // namespace ladle::model
