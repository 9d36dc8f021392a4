// matmul_q8_vnni: the AVX-512 VNNI kernel of `--weights q8` with int8 activations
// (model/matmul_q8_int8.cc has the portable and AVX2 ones and the contract): one zmm per group of
// a panel (16 columns × 4 rows along K), vpdpbusd summing each column's 4 byte products into its
// int32 lane. Chosen at run time (model/isa.h) when the CPU has avx512_vnni.
//
// vpdpbusd multiplies unsigned by signed bytes; x is signed, so it runs on x + 128 (u8) and takes
// 128 · Σ w off again, that sum coming from one more vpdpbusd per group and panel (of 128s against
// w) shared by all rows of the tile: exact integers either way, the same isum as the portable kernel.
#include <algorithm>
#include <cstring>

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

constexpr std::size_t kAheadBytes = 1024;

// y[0..MR) × [0..min(cols, NP·kPanel)) (row stride ldy) for rows m0.. of x and the NP
// consecutive q8 panels at `w`: MR·NP int32 sums, NP corrections, MR·NP float accumulators.
template <int MR, int NP, bool kPrefetch = false>
LADLE_AVX512_VNNI inline void tile_q8i_vnni(const Q8Rows& x, int m0, const std::uint8_t* w, float* y, int ldy,
                                            int cols) {
  const std::size_t stride = q8_panel_bytes(x.K);
  const __m512i bias = _mm512_set1_epi8(char(0x80));
  __m512 acc[MR][NP];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  const std::uint8_t* block = w;
  for (int b = 0; b < x.blocks; ++b, block += kQ8BlockBytes) {
    const int kn = std::min(kQ8Block, x.K - b * kQ8Block);
    __m512i isum[MR][NP], corr[NP];
#pragma GCC unroll 8
    for (int j = 0; j < NP; ++j) {
      corr[j] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) isum[i][j] = _mm512_setzero_si512();
    }
    for (int k = 0; k < kn; k += kQ8Group) {
      const std::uint8_t* group = block + std::size_t(k / kQ8Group) * kQ8GroupBytes;
      if constexpr (kPrefetch)
#pragma GCC unroll 8
        for (int p = 0; p < NP; ++p) _mm_prefetch(reinterpret_cast<const char*>(group + p * stride + kAheadBytes), _MM_HINT_T0);
      __m512i wv[NP];
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p) {
        wv[p] = _mm512_loadu_si512(group + p * stride);
        corr[p] = _mm512_dpbusd_epi32(corr[p], bias, wv[p]);
      }
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        std::int32_t v;
        std::memcpy(&v, x.row_q(m0 + i) + std::size_t(b) * kQ8Block + k, sizeof v);
        const __m512i xb = _mm512_xor_si512(_mm512_set1_epi32(v), bias);  // x + 128 as u8
#pragma GCC unroll 8
        for (int p = 0; p < NP; ++p) isum[i][p] = _mm512_dpbusd_epi32(isum[i][p], xb, wv[p]);
      }
    }
    const std::uint8_t* scales = block + std::size_t(q8_block_rows(kn)) * kPanel;
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(scales + p * stride)));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512 s = _mm512_mul_ps(d, _mm512_set1_ps(x.row_d(m0 + i)[b]));
        acc[i][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isum[i][p], corr[p])), s, acc[i][p]);
      }
    }
  }
  store_tile_avx512(acc, y, ldy, cols);
}

// Rows per register tile: 6 rows × 2 panels = 12 int32 sums + 12 float accumulators + 2
// corrections + 2 weight vectors + the broadcast and the bias, 30 of the 32 zmm registers.
constexpr int kRows = 6;

template <int NP>
LADLE_AVX512_VNNI inline void tail_q8i(int r, const Q8Rows& x, int m0, const std::uint8_t* w, float* y, int ldy,
                                       int cols) {
  switch (r) {
    case 1: tile_q8i_vnni<1, NP>(x, m0, w, y, ldy, cols); break;
    case 2: tile_q8i_vnni<2, NP>(x, m0, w, y, ldy, cols); break;
    case 3: tile_q8i_vnni<3, NP>(x, m0, w, y, ldy, cols); break;
    case 4: tile_q8i_vnni<4, NP>(x, m0, w, y, ldy, cols); break;
    default: tile_q8i_vnni<5, NP>(x, m0, w, y, ldy, cols); break;
  }
}
static_assert(kRows == 6, "tail_q8i covers 1..5 rows");

}  // namespace

LADLE_AVX512_VNNI void range_q8i_vnni(const Q8Rows& x, const std::uint8_t* w, float* y, int N, int p_begin,
                                      int p_end) {
  const std::size_t stride = q8_panel_bytes(x.K);
  const int M = x.M;
  int p = p_begin;
  if (M == 1) {
    // One row: W streams from memory once; four panels per tile, each prefetched ahead.
    for (; p + 4 <= p_end; p += 4)
      tile_q8i_vnni<1, 4, true>(x, 0, w + p * stride, y + p * kPanel, N, N - p * kPanel);
    for (; p < p_end; ++p) tile_q8i_vnni<1, 1, true>(x, 0, w + p * stride, y + p * kPanel, N, N - p * kPanel);
    return;
  }
  // Pairs of panels (L1/L2-resident while every row tile passes over them), kRows rows at a time.
  for (; p < p_end; p += 2) {
    const int np = std::min(2, p_end - p), cols = N - p * kPanel, r = M % kRows;
    const std::uint8_t* wp = w + p * stride;
    int m = 0;
    for (; m + kRows <= M; m += kRows) {
      float* ym = y + std::size_t(m) * N + p * kPanel;
      if (np == 2) tile_q8i_vnni<kRows, 2>(x, m, wp, ym, N, cols);
      else tile_q8i_vnni<kRows, 1>(x, m, wp, ym, N, cols);
    }
    if (r == 0) continue;
    float* ym = y + std::size_t(m) * N + p * kPanel;
    if (np == 2) tail_q8i<2>(r, x, m, wp, ym, N, cols);
    else tail_q8i<1>(r, x, m, wp, ym, N, cols);
  }
}

}  // namespace ladle::model::kernels

#endif  // __x86_64__
