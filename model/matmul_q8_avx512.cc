// The AVX-512 kernel on block-quantized int8 panels (model/q8_panels.h): model/matmul_q8.cc's
// AVX2 kernel with one zmm per group of a panel (16 columns × 4 rows; each row widened to 16 floats), chosen at run time
// (model/isa.h). Each zmm fma is 16 single-rounding fmas, exactly those of the other q8 kernels.
#include <algorithm>

#include "model/matmul_kernels.h"
#include "model/q8_panels.h"
#include "model/tile_store.h"

#if defined(__x86_64__)
#include <immintrin.h>

// GCC 12's avx512fintrin.h trips its own -Wmaybe-uninitialized (see model/matmul_avx512.cc).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace ladle::model::kernels {

namespace {

// Row I of a group: each 32-bit lane holds one column's 4 int8 (model/q8_panels.h); I's byte,
// sign-extended, widened.
template <int I>
LADLE_AVX512 inline __m512 lane_row(__m512i v) {
  if constexpr (I == 3) return _mm512_cvtepi32_ps(_mm512_srai_epi32(v, 24));
  else return _mm512_cvtepi32_ps(_mm512_srai_epi32(_mm512_slli_epi32(v, 24 - 8 * I), 24));
}

// part[i][j] += x[i][k] · row I of raw[j] for the MR rows of x (row stride K).
template <int I, int MR, int NP>
LADLE_AVX512 inline void fma_row(const float* x, int K, int k, const __m512i (&raw)[NP], __m512 (&part)[MR][NP]) {
  __m512 b[NP];
#pragma GCC unroll 8
  for (int j = 0; j < NP; ++j) b[j] = lane_row<I>(raw[j]);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m512 a = _mm512_set1_ps(x[std::size_t(i) * K + k]);
#pragma GCC unroll 8
    for (int j = 0; j < NP; ++j) part[i][j] = _mm512_fmadd_ps(a, b[j], part[i][j]);
  }
}
LADLE_AVX512 inline __m512 scales16(const std::uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Bytes ahead of its current row that a one-row tile prefetches in each of its panels.
constexpr std::size_t kAheadBytes = 1024;

// y[0..MR) × [0..min(cols, NP·kPanel)) (row stride ldy) for the MR rows of x (row stride K) and
// the NP consecutive q8 panels at `w` (panel stride q8_panel_bytes(K)): MR·NP partial sums and as
// many accumulators.
template <int MR, int NP, bool kPrefetch = false>
LADLE_AVX512 inline void tile_q8_avx512(const float* x, const std::uint8_t* w, float* y, int ldy, int K, int cols) {
  const std::size_t stride = q8_panel_bytes(K);
  __m512 acc[MR][NP];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  const std::uint8_t* block = w;
  for (int k0 = 0; k0 < K; k0 += kQ8Block, block += kQ8BlockBytes) {
    const int kn = std::min(kQ8Block, K - k0);
    __m512 part[MR][NP];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NP; ++j) part[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < kn; k += kQ8Group) {
      const std::uint8_t* group = block + std::size_t(k / kQ8Group) * kQ8GroupBytes;
      if constexpr (kPrefetch)
#pragma GCC unroll 8
        for (int p = 0; p < NP; ++p) _mm_prefetch(reinterpret_cast<const char*>(group + p * stride + kAheadBytes), _MM_HINT_T0);
      __m512i raw[NP];
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p) raw[p] = _mm512_loadu_si512(group + p * stride);
      // Rows k..k+3 in order (fewer in a block's last group when K is not a multiple of 4).
      const int kg = kn - k;
      fma_row<0>(x, K, k0 + k, raw, part);
      if (kg > 1) fma_row<1>(x, K, k0 + k + 1, raw, part);
      if (kg > 2) fma_row<2>(x, K, k0 + k + 2, raw, part);
      if (kg > 3) fma_row<3>(x, K, k0 + k + 3, raw, part);
    }
    const std::uint8_t* scales = block + std::size_t(q8_block_rows(kn)) * kPanel;
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      const __m512 d = scales16(scales + p * stride);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) acc[i][p] = _mm512_fmadd_ps(part[i][p], d, acc[i][p]);
    }
  }
  store_tile_avx512(acc, y, ldy, cols);
}

// Rows per register tile: 6 rows × 2 panels = 12 partial sums + 12 accumulators + 2 weight
// vectors + 1 broadcast, 27 of the 32 zmm registers.
constexpr int kRows = 6;

template <int NP>
LADLE_AVX512 inline void tail_q8(int r, const float* x, const std::uint8_t* w, float* y, int ldy, int K, int cols) {
  switch (r) {
    case 1: tile_q8_avx512<1, NP>(x, w, y, ldy, K, cols); break;
    case 2: tile_q8_avx512<2, NP>(x, w, y, ldy, K, cols); break;
    case 3: tile_q8_avx512<3, NP>(x, w, y, ldy, K, cols); break;
    case 4: tile_q8_avx512<4, NP>(x, w, y, ldy, K, cols); break;
    default: tile_q8_avx512<5, NP>(x, w, y, ldy, K, cols); break;
  }
}
static_assert(kRows == 6, "tail_q8 covers 1..5 rows");

}  // namespace

LADLE_AVX512 void range_q8_avx512(const float* x, const std::uint8_t* w, float* y, int M, int N, int K, int p_begin,
                                  int p_end) {
  const std::size_t stride = q8_panel_bytes(K);
  int p = p_begin;
  if (M == 1) {
    // One row: W streams from memory once; four panels per tile (as range_avx512), each
    // prefetched kAheadBytes ahead.
    for (; p + 4 <= p_end; p += 4)
      tile_q8_avx512<1, 4, true>(x, w + p * stride, y + p * kPanel, N, K, N - p * kPanel);
    for (; p < p_end; ++p) tile_q8_avx512<1, 1, true>(x, w + p * stride, y + p * kPanel, N, K, N - p * kPanel);
    return;
  }
  // Pairs of panels (L1/L2-resident while every row tile passes over them), kRows rows at a time.
  for (; p < p_end; p += 2) {
    const int np = std::min(2, p_end - p), cols = N - p * kPanel, r = M % kRows;
    const std::uint8_t* wp = w + p * stride;
    int m = 0;
    for (; m + kRows <= M; m += kRows) {
      const float* xm = x + std::size_t(m) * K;
      float* ym = y + std::size_t(m) * N + p * kPanel;
      if (np == 2) tile_q8_avx512<kRows, 2>(xm, wp, ym, N, K, cols);
      else tile_q8_avx512<kRows, 1>(xm, wp, ym, N, K, cols);
    }
    if (r == 0) continue;
    const float* xm = x + std::size_t(m) * K;
    float* ym = y + std::size_t(m) * N + p * kPanel;
    if (np == 2) tail_q8<2>(r, xm, wp, ym, N, K, cols);
    else tail_q8<1>(r, xm, wp, ym, N, K, cols);
  }
}

}  // namespace ladle::model::kernels

#endif  // __x86_64__
