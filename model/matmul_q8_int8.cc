// matmul_q8_int8: the portable and AVX2 kernels of `--weights q8` with int8 activations: x
// quantized per row to Q8_0 (model/q8_activations.h), int8 × int8 products summed exactly in int32
// per block of 32, then acc = fma(float(isum), dx · dw, acc) per block in order, as the header
// spells out: every kernel (and the VNNI one, model/matmul_q8_vnni.cc) computes those float
// operations, so they give the same bits for any M. model/matmul.cc dispatches.
//
// NOTE(q8): int8 activations are the default, float ones the switch (`--q8-activations float`).
// Widening int8 weights to float made batched q8 0.95x f16 (issue 23's goal: no worse), since a
// 32-row step is compute-bound and each widened weight costs two instructions; with x quantized
// per block, one vpdpbusd does 64 multiply-adds. forward_bench --shapes 110m --batches 1,8,32
// --max-batch 32 --isa avx512 --min-time 1 --rounds 3 (AMD EPYC Zen 4, 2 vCPUs, avx512_vnni;
// loaded: load average 4-6), medians of three rounds: q8 int8 / q8 float (one process, the two
// alternated: --q8-activations int8,float) 125 / 124 tok/s at 1 row, 415 / 255 at 8, 476 / 303
// at 32; f16 in the processes before and after 76 / 56, 277 / 264, 302 / 257. So int8 is
// 1.5-1.7x f16 and 1.6x float-q8 at 8-32 rows, level with float-q8 for one stream (bound by the
// weight bytes there). AVX2 (--isa avx2, same run style): int8 / float 279 / 204 at 8 rows,
// 257 / 220 at 32. The price is rounding x to 8 bits per block on top of the weights' error:
// weights_quality_bench, teacher-forced max / mean |dlogit| against f32, int8 vs float: 110M shape
// 1.03 / 0.167 vs 0.547 / 0.102, 15M 0.48 / 0.093 vs 0.32 / 0.054, stories260K 0.51 / 0.079 vs
// 0.44 / 0.052 (253 of 256 argmaxes equal either way; greedy text equal to f32's for 186 tokens
// with int8, 114 with float, both ending at a near-tie). Batch invariance and ISA-independence hold
// either way (the int32 sums are exact; the float steps are fixed).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/matmul_kernels.h"
#include "model/q8_panels.h"
#include "model/tile_store.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ladle::model::kernels {

void range_q8i_portable(const Q8Rows& x, const std::uint8_t* w, float* y, int N, int p_begin, int p_end) {
  const int K = x.K;
  const std::size_t stride = q8_panel_bytes(K);
  for (int p = p_begin; p < p_end; ++p) {
    const std::uint8_t* panel = w + std::size_t(p) * stride;
    const int cols = std::min(kPanel, N - p * kPanel);
    for (int m = 0; m < x.M; ++m) {
      float acc[kPanel] = {};
      const std::uint8_t* block = panel;
      for (int b = 0; b < x.blocks; ++b, block += kQ8BlockBytes) {
        const int kn = std::min(kQ8Block, K - b * kQ8Block);
        const std::int8_t* xq = x.row_q(m) + std::size_t(b) * kQ8Block;
        std::int32_t isum[kPanel] = {};
        for (int k = 0; k < kn; ++k)
          for (int c = 0; c < kPanel; ++c) isum[c] += std::int32_t(xq[k]) * std::int8_t(block[q8_at(k, c)]);
        Half d[kPanel];
        std::memcpy(d, block + std::size_t(q8_block_rows(kn)) * kPanel, sizeof d);
        const float dx = x.row_d(m)[b];
        for (int c = 0; c < kPanel; ++c) acc[c] = std::fma(float(isum[c]), half_to_float(d[c]) * dx, acc[c]);
      }
      std::memcpy(y + std::size_t(m) * N + std::size_t(p) * kPanel, acc, std::size_t(cols) * sizeof(float));
    }
  }
}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace {

inline __m256i load32(const std::uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256 scales8(const std::uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
// x's 4 int8 of one group, in every 32-bit lane.
inline __m256i broadcast4(const std::int8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

constexpr std::size_t kAheadBytes = 1024;

// y[0..MR) × [0..min(cols, NP·kPanel)) (row stride ldy) for rows m0.. of x and the NP
// consecutive q8 panels at `w`. Per group: vpmaddubsw(|w|, x·sign(w)) sums two products into an
// int16 (at most 2 · 128 · 127, no saturation: |x| <= 127 from the quantizer, w may be -128 in a
// GGUF), vpmaddwd by 1 the two pairs into an int32 lane: column c's 4 products.
template <int MR, int NP, bool kPrefetch = false>
inline void tile_q8i_avx2(const Q8Rows& x, int m0, const std::uint8_t* w, float* y, int ldy, int cols) {
  constexpr int NV = 2 * NP;
  const std::size_t stride = q8_panel_bytes(x.K);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_setzero_ps();
  const std::uint8_t* block = w;
  for (int b = 0; b < x.blocks; ++b, block += kQ8BlockBytes) {
    const int kn = std::min(kQ8Block, x.K - b * kQ8Block);
    __m256i isum[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) isum[i][j] = _mm256_setzero_si256();
    for (int k = 0; k < kn; k += kQ8Group) {
      const std::uint8_t* group = block + std::size_t(k / kQ8Group) * kQ8GroupBytes;
      if constexpr (kPrefetch)
#pragma GCC unroll 8
        for (int p = 0; p < NP; ++p) _mm_prefetch(reinterpret_cast<const char*>(group + p * stride + kAheadBytes), _MM_HINT_T0);
      __m256i wv[NV], aw[NV];
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p) {
        wv[2 * p] = load32(group + p * stride);
        wv[2 * p + 1] = load32(group + p * stride + 32);
      }
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) aw[j] = _mm256_abs_epi8(wv[j]);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256i xb = broadcast4(x.row_q(m0 + i) + std::size_t(b) * kQ8Block + k);
#pragma GCC unroll 8
        for (int j = 0; j < NV; ++j)
          isum[i][j] = _mm256_add_epi32(
              isum[i][j], _mm256_madd_epi16(_mm256_maddubs_epi16(aw[j], _mm256_sign_epi8(xb, wv[j])), ones));
      }
    }
    const std::uint8_t* scales = block + std::size_t(q8_block_rows(kn)) * kPanel;
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      const __m256 d0 = scales8(scales + p * stride), d1 = scales8(scales + p * stride + 16);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256 dx = _mm256_set1_ps(x.row_d(m0 + i)[b]);
        acc[i][2 * p] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i][2 * p]), _mm256_mul_ps(d0, dx), acc[i][2 * p]);
        acc[i][2 * p + 1] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[i][2 * p + 1]), _mm256_mul_ps(d1, dx), acc[i][2 * p + 1]);
      }
    }
  }
  store_tile_avx2(acc, y, ldy, cols);
}

}  // namespace

void range_q8i_avx2(const Q8Rows& x, const std::uint8_t* w, float* y, int N, int p_begin, int p_end) {
  const std::size_t stride = q8_panel_bytes(x.K);
  const int M = x.M;
  int p = p_begin;
  if (M == 1) {
    // One row: W streams from memory once; two panels per tile, each prefetched ahead.
    for (; p + 2 <= p_end; p += 2) tile_q8i_avx2<1, 2, true>(x, 0, w + p * stride, y + p * kPanel, N, N - p * kPanel);
    for (; p < p_end; ++p) tile_q8i_avx2<1, 1, true>(x, 0, w + p * stride, y + p * kPanel, N, N - p * kPanel);
    return;
  }
  // Tiles of 4 rows × one panel (8 int32 sums + 2 weight vectors and their absolute values + the
  // broadcast and the ones: the 16 registers; the float accumulators, touched once per block,
  // may spill), then the last M % 4 rows.
  for (; p < p_end; ++p) {
    const std::uint8_t* wp = w + p * stride;
    const int cols = N - p * kPanel;
    int m = 0;
    for (; m + 4 <= M; m += 4) tile_q8i_avx2<4, 1>(x, m, wp, y + std::size_t(m) * N + p * kPanel, N, cols);
    float* ym = y + std::size_t(m) * N + p * kPanel;
    switch (M - m) {
      case 0: break;
      case 1: tile_q8i_avx2<1, 1>(x, m, wp, ym, N, cols); break;
      case 2: tile_q8i_avx2<2, 1>(x, m, wp, ym, N, cols); break;
      default: tile_q8i_avx2<3, 1>(x, m, wp, ym, N, cols); break;
    }
  }
}

#pragma GCC pop_options
#endif

}  // namespace ladle::model::kernels
