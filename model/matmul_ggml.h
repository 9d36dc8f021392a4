// matmul_ggml: matmul on W held as a GGUF file's own ggml blocks, byte for byte as the file
// stores them (`--weights native`; model/weights.cc copies them into 2 MiB pages): Q4_K and Q6_K (ggml-common.h's block_q4_K / block_q6_K, 256 weights a
// super-block), row-major as the file stores them: row n of W is K / 256 blocks. model/matmul.cc
// hands a PackedMatrix whose `ggml` is set to matmul_ggml().
//
// NOTE(ggml): what the dot products accumulate in: activations quantized to Q8_K, as llama.cpp
// does, with exact integer sums. Each row of x is rounded per block of 256 exactly as ggml's
// quantize_row_q8_K_ref (d8 = max / −127 of the signed largest value, q = round-half-even(x / d8),
// sums of 16), once per matmul, on the calling thread, by one scalar function. Per output y[m][n]
// and per super-block (256 weights, in increasing k from 0), sixteen integer lanes: lane j holds
// the weights e = 64c + 4j + i (c, i < 4), the four bytes a 32-bit lane of a 64-byte
// vector holds:
//   Q4_K  t_j = Σ_e scale(e / 32) · q4_e · q8_e,  u_j = min(j / 2) · (Σ of q8 over group j of 16)
//         f_j = f_j + ((d · d8) · t_j − (dmin · d8) · u_j)
//   Q6_K  t_j = Σ_e scale(e / 16) · q6_e · q8_e − 32 · scale(j) · (Σ of q8 over group j)
//         f_j = f_j + (d · d8) · t_j          (q6 the unsigned 6-bit value, hence the −32 term)
// in fp32, each operation rounded once in that order (q4k_lanes / q6k_lanes below; model/ is
// built with -ffp-contract=off), then y = the lanes added pairwise (j + 8, + 4, + 2, + 1). The
// integer sums are exact whatever the instructions, so AVX-512 VNNI (vpmaddubsw, then vpdpwssd
// with the scales, one zmm per lane set), AVX2 (pmaddubsw + pmaddwd, two ymm) and the portable
// kernel give the same bits, and a row's result depends only on that row: batch invariant. Against widening each weight to float (the
// first version here: every weight exactly dequantize()'s, sixteen fma lane chains), this rounds
// every activation to 8 bits per 256 (llama.cpp's error) and ran one row about 2x faster; numbers
// in model/matmul_ggml.cc.
// Free functions, no state; any thread (pool used by one caller at a time).
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/matmul.h"
#include "model/thread_pool.h"

namespace ladle::model {

// Whether matmul computes with ggml type `type` directly from its blocks (Q4_K, Q6_K).
bool matmul_reads_ggml(std::uint32_t type);

// Bytes of one row of K weights in a type matmul_reads_ggml() (K a multiple of 256).
std::size_t ggml_matmul_row_bytes(std::uint32_t type, int K);

// y[M×N] = x[M×K] · Wᵀ for W = w.ggml (type w.ggml_type, N = w.N rows of K = w.K), split across
// `pool` by rows of W (pool may be null: one thread), by the kernel of the active ISA level.
void matmul_ggml(const float* x, const PackedMatrix& w, float* y, int M, ThreadPool* pool);

// matmul_ggml()'s kernel on rows [n_begin, n_end) of W only, on the calling thread: those
// columns of y (row stride w.N), bit-identical to what matmul_ggml() writes there.
void matmul_ggml_rows(const float* x, const PackedMatrix& w, float* y, int M, int n_begin, int n_end);

// The portable kernel (the integer sums spelled out), single-threaded, for tests.
void matmul_ggml_portable(const float* x, const PackedMatrix& w, float* y, int M);

// x [M × K] as Q8_K blocks (quantize_row_q8_K_ref's numbers), row m at q + m·K, d + m·K/256,
// bsum + m·K/16.
struct Q8KRows {
  const std::int8_t* q;
  const float* d;
  const std::int16_t* bsum;
};
// Quantizes x [M × K] (K a multiple of 256) into the three arrays (M·K, M·K/256, M·K/16 long).
void quantize_q8k(const float* x, int M, int K, std::int8_t* q, float* d, std::int16_t* bsum);

namespace kernels {

// The float part of one super-block for one lane (the vector kernels do the same operations lane
// by lane; model/ is built with -ffp-contract=off: each rounds once, in this order).
inline float q4k_lane(float f, float d_d8, float dmin_d8, int t, int u) {
  return f + (d_d8 * float(t) - dmin_d8 * float(u));
}
inline float q6k_lane(float f, float d_d8, int t) { return f + d_d8 * float(t); }
// The sixteen lanes added pairwise: j + 8, then + 4, + 2, + 1.
inline float reduce_lanes(const float (&f)[16]) {
  float s8[8], s4[4];
  for (int j = 0; j < 8; ++j) s8[j] = f[j] + f[j + 8];
  for (int j = 0; j < 4; ++j) s4[j] = s8[j] + s8[j + 4];
  const float s0 = s4[0] + s4[2], s1 = s4[1] + s4[3];
  return s0 + s1;
}

// Rows [n_begin, n_end) of y[M×N] = x · Wᵀ, x as Q8_K, W ggml blocks of `type` at `w` (row-major).
using GgmlRowsFn = void (*)(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                            int n_begin, int n_end);
void ggml_rows_portable(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                        int n_begin, int n_end);
#if defined(__x86_64__)
void ggml_rows_avx2(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                    int n_begin, int n_end);
void ggml_rows_avx512(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                      int n_begin, int n_end);
#endif

}  // namespace kernels

}  // namespace ladle::model
