// matmul_ggml: matmul on W held in a GGUF file's own Q4_K / Q6_K numbers (`--weights native`):
// the file's blocks rearranged bit for bit into panels of 16 rows (model/ggml_panels.h; done by
// model/weights.cc at load), so that a 64-byte vector holds four consecutive weights of 16 output
// columns. model/matmul.cc hands a PackedMatrix whose `ggml` is set to matmul_ggml().
//
// NOTE(ggml): what the dot products accumulate in: activations quantized to Q8_K, as llama.cpp
// does, with exact integer sums. Each row of x is rounded per block of 256 exactly as ggml's
// quantize_row_q8_K_ref (d8 = max / −127 of the signed largest value, q = round-half-even(x / d8),
// sums of 16), once per matmul, on the calling thread. Per output y[m][n] and per super-block (256
// weights, in increasing k from 0), with exact integers (int32 holds every partial sum):
//   Q4_K  T = Σ_s scale_s · Σ_{k in sub-block s} q4_k · q8_k     U = Σ_s min_s · Σ_{k in s} q8_k
//         f = f + ((d · d8) · float(T) − (dmin · d8) · float(U))
//   Q6_K  T = Σ_g scale_g · Σ_{k in group g} q6_k · q8_k − 32 · Σ_g scale_g · Σ_{k in g} q8_k
//         f = f + (d · d8) · float(T)            (q6 the unsigned 6-bit value, hence the −32 term)
// in fp32 from f = 0, each operation rounded once in that order (model/ is built with
// -ffp-contract=off), y = f: ggml's own sums (ggml_vec_dot_q4_K_q8_K adds the same integers; it
// combines the super-blocks' floats in another order). The integer sums are exact whatever the
// instructions, so AVX-512 VNNI (vpdpbusd into 16 int32 lanes, one per output column), AVX2
// (vpmaddubsw + vpmaddwd) and the portable kernel give the same bits, and a row's result depends
// only on that row: batch invariant.
// Free functions, no state; any thread (pool used by one caller at a time).
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/matmul.h"
#include "model/thread_pool.h"

namespace ladle::model {

// Whether matmul computes with ggml type `type` directly from its blocks (Q4_K, Q6_K).
bool matmul_reads_ggml(std::uint32_t type);

// y[M×N] = x[M×K] · Wᵀ for W = w.ggml (panels of type w.ggml_type, N = w.N rows of K = w.K),
// split across `pool` by panels (pool may be null: one thread), by the kernel of the active ISA
// level.
void matmul_ggml(const float* x, const PackedMatrix& w, float* y, int M, ThreadPool* pool);

// matmul_ggml()'s kernel on rows [n_begin, n_end) of W only (n_begin a multiple of 16), on the
// calling thread: those columns of y (row stride w.N), bit-identical to what matmul_ggml() writes.
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
// Quantizes x [M × K] (K a multiple of 256) into the three arrays (M·K, M·K/256, M·K/16 long):
// the scalar reference, ggml's loop.
void quantize_q8k(const float* x, int M, int K, std::int8_t* q, float* d, std::int16_t* bsum);
// The same numbers, by the fastest quantizer the active ISA level has (AVX2: the same operations
// eight at a time, each rounded as the scalar one rounds it).
void quantize_q8k_fast(const float* x, int M, int K, std::int8_t* q, float* d, std::int16_t* bsum);

namespace kernels {

// Super-block sb of rows m0 .. m0 + MR − 1 of x (sbs super-blocks a row), as a tile reads it:
// each row's 256 Q8_K bytes, its 16 sums of 16 and its scale.
template <int MR>
struct Q8KTile {
  const std::int8_t* q[MR];
  const std::int16_t* bsum[MR];
  float d[MR];
  Q8KTile(const Q8KRows& x, int m0, int sbs, int sb) {
    for (int i = 0; i < MR; ++i) {
      const std::size_t b = std::size_t(m0 + i) * sbs + sb;
      q[i] = x.q + b * 256;
      bsum[i] = x.bsum + b * 16;
      d[i] = x.d[b];
    }
  }
};

// Rows [n_begin, n_end) of y[M×N] = x · Wᵀ (n_begin a multiple of 16), x as Q8_K, W the panels of
// `type` at `w` (model/ggml_panels.h).
using GgmlRowsFn = void (*)(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                            int n_begin, int n_end);
void ggml_rows_portable(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                        int n_begin, int n_end);
#if defined(__x86_64__)
void ggml_rows_avx2(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                    int n_begin, int n_end);
void ggml_rows_avx512(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                      int n_begin, int n_end);
void quantize_q8k_avx2(const float* x, int M, int K, std::int8_t* q, float* d, std::int16_t* bsum);
#endif

}  // namespace kernels

}  // namespace ladle::model
