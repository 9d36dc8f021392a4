// ggml_dequantize: ggml tensor data (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, and the
// K-quants of llama-quantize's Q4_K_M / Q5_K_M files: Q4_K, Q5_K, Q6_K) widened to floats, value
// for value what ggml's dequantize_row_* (ggml-quants.c) computes, so a quantized GGUF loads as
// exactly the model llama.cpp runs. Free functions, no state; any thread.
//
// NOTE(gguf): a half or bfloat16 widens exactly, and a Q8_0 / Q4_0 / Q5_0 value is a small integer
// (|q| <= 128) times the block's half scale, an 8 × 11-bit product that needs at most 19
// significant bits. The others round once, after exact steps: Q4_1 / Q5_1 are q * d + m (q * d
// exact), Q4_K / Q5_K are (d * scale) * q - dmin * min (products of at most 11 + 6 + 5 bits, exact),
// Q6_K is d * scale * q (any two of the three factors multiply exactly, the last product rounds).
// So each value is the exact formula rounded once to float, whatever the order of the operations or
// a fused multiply-add: bit-exact with ggml by construction (tried: std::fma or reassociated
// products here still pass tests/tools/gguf_llama_cpp_test.cc, which checks every weight of files
// llama-quantize wrote against ggml's own dequantization).
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
