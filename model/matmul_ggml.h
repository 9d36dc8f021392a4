// matmul_ggml: matmul on W held as a GGUF file's own ggml blocks, in the file's mapping, no copy
// (`--weights native`): Q4_K and Q6_K (ggml-common.h's block_q4_K / block_q6_K, 256 weights a
// super-block), row-major as the file stores them: row n of W is K / 256 blocks. model/matmul.cc
// hands a PackedMatrix whose `ggml` is set to matmul_ggml().
//
// NOTE(ggml): what the dot products accumulate in: float widening, not Q8_K activations. Each
// weight is widened to exactly the float ggml's dequantize_row_q4_K / _q6_K gives
// (model/ggml_dequantize.h; for Q4_K one fmsub d1·q − m1 whose product is exact, for Q6_K one
// product (d·scale)·(q − 32)), and y[m][n] is a fixed-order fp32 sum over k: sixteen lanes, lane j
// the fma chain over k ≡ j (mod 16) in increasing k from 0, then the lanes added pairwise (j + 8,
// then + 4, + 2, + 1). The order depends on neither M, nor the other rows, nor the tile, nor the
// thread split, nor the ISA: AVX-512 (one zmm per 16 k), AVX2 (two ymm) and the portable kernel
// (dequantize() then std::fma) give the same bits, and a row's result is batch invariant.
// llama.cpp instead rounds x to Q8_K (int8 per 256) and sums int8 products in int32: faster at
// many rows, but every activation is rounded to 8 bits and a row's result then depends on that
// rounding. Why the sixteen lanes and not matmul.h's one chain over k: W is row-major here, so a
// vector holds 16 consecutive k of one row; one chain would need W transposed into panels, which
// is the copy this mode exists to avoid. The cost is measured in model/matmul_ggml.cc.
//
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

// The portable kernel (dequantize() then the sixteen fma chains), single-threaded, for tests.
void matmul_ggml_portable(const float* x, const PackedMatrix& w, float* y, int M);

namespace kernels {

// Rows [n_begin, n_end) of y[M×N] = x[M×K] · Wᵀ, W ggml blocks of `type` at `w` (row-major).
using GgmlRowsFn = void (*)(std::uint32_t type, const float* x, const std::byte* w, float* y, int M, int N, int K,
                            int n_begin, int n_end);
void ggml_rows_portable(std::uint32_t type, const float* x, const std::byte* w, float* y, int M, int N, int K,
                        int n_begin, int n_end);
#if defined(__x86_64__)
void ggml_rows_avx2(std::uint32_t type, const float* x, const std::byte* w, float* y, int M, int N, int K,
                    int n_begin, int n_end);
void ggml_rows_avx512(std::uint32_t type, const float* x, const std::byte* w, float* y, int M, int N, int K,
                      int n_begin, int n_end);
#endif

}  // namespace kernels

}  // namespace ladle::model
