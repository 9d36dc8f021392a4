// The AVX-512 (F, BW, VL, DQ) matmul kernel: model/matmul.cc's AVX2 kernel with one zmm register
// per panel row (kPanel = 16 floats), so a register tile holds MR rows × NP whole panels; chosen
// at run time (model/isa.h) on CPUs that have it.
//
// Every output is the same fma chain over k as in the other kernels (model/matmul.h): a zmm fma
// is 16 independent single-rounding fmas, exactly those of the AVX2 and portable kernels.
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "model/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

// GCC 12's avx512fintrin.h trips its own -Wmaybe-uninitialized (the self-initialised __Y of
// _mm512_undefined_*) wherever its masked or widening intrinsics are inlined.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace ladle::model::kernels {

namespace {

LADLE_AVX512 inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
LADLE_AVX512 inline __m512 load16(const Half* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
LADLE_AVX512 inline __m512 load16(const std::int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// y[0..MR) × [0..min(cols, NP·kPanel)) (row stride ldy) for the MR rows of x at `x` (row stride
// K) and the NP consecutive panels at `w` (panel stride K·kPanel), one accumulator per row and
// panel. Prefetching as tile_avx2 does: ahead.lines lines spread over the K steps, and with
// self_ahead > 0 row k + self_ahead of its first panel (of all NP panels when MR = 1).
template <int MR, int NP, class W>
LADLE_AVX512 inline void tile_avx512(const float* x, const W* w, float* y, int ldy, int K, int cols,
                                     Ahead ahead = {}, int self_ahead = 0) {
  __m512 acc[MR][NP];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_ps();
  const std::size_t stride = std::size_t(K) * kPanel;
  SpreadPrefetch spread(ahead, K);
  for (int k = 0; k < K; ++k) {
    spread.step();
    if (self_ahead > 0 && k % (4 / sizeof(W)) == 0)
#pragma GCC unroll 8
      for (int p = 0; p < (MR == 1 ? NP : 1); ++p)
        _mm_prefetch(reinterpret_cast<const char*>(w + p * stride + std::size_t(k + self_ahead) * kPanel), _MM_HINT_T0);
    __m512 b[NP];
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) b[p] = load16(w + p * stride + std::size_t(k) * kPanel);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(x[std::size_t(i) * K + k]);
#pragma GCC unroll 8
      for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  spread.finish();
  if (cols >= NP * kPanel) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NP; ++j) _mm512_storeu_ps(y + std::size_t(i) * ldy + kPanel * j, acc[i][j]);
    return;
  }
  // The matrix's last panel: a masked store of its first `cols - kPanel·j` columns.
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NP; ++j) {
      const int n = std::clamp(cols - kPanel * j, 0, kPanel);
      _mm512_mask_storeu_ps(y + std::size_t(i) * ldy + kPanel * j, __mmask16((1u << n) - 1), acc[i][j]);
    }
}

// Rows per register tile: kRows × 2 panels = 24 of the 32 zmm registers hold accumulators.
constexpr int kRows = 12;

// Tile of r (< kRows) rows × NP panels.
template <int NP, class W>
LADLE_AVX512 inline void tail_tile(int r, const float* x, const W* w, float* y, int ldy, int K, int cols, Ahead ahead) {
  switch (r) {
    case 1: tile_avx512<1, NP>(x, w, y, ldy, K, cols, ahead); break;
    case 2: tile_avx512<2, NP>(x, w, y, ldy, K, cols, ahead); break;
    case 3: tile_avx512<3, NP>(x, w, y, ldy, K, cols, ahead); break;
    case 4: tile_avx512<4, NP>(x, w, y, ldy, K, cols, ahead); break;
    case 5: tile_avx512<5, NP>(x, w, y, ldy, K, cols, ahead); break;
    case 6: tile_avx512<6, NP>(x, w, y, ldy, K, cols, ahead); break;
    case 7: tile_avx512<7, NP>(x, w, y, ldy, K, cols, ahead); break;
    case 8: tile_avx512<8, NP>(x, w, y, ldy, K, cols, ahead); break;
    case 9: tile_avx512<9, NP>(x, w, y, ldy, K, cols, ahead); break;
    case 10: tile_avx512<10, NP>(x, w, y, ldy, K, cols, ahead); break;
    default: tile_avx512<11, NP>(x, w, y, ldy, K, cols, ahead); break;
  }
}
static_assert(kRows == 12, "tail_tile covers 1..11 rows");

// Rows [0, M) against panels [p, p + np), np <= 2, read from `wp` (panel p's first element, the
// next K·kPanel later), into y's columns of those panels: tiles of kRows rows × np panels, then
// one of the last M % kRows rows. Prefetching as rows_avx2 does.
template <class W>
LADLE_AVX512 void rows_avx512(const float* x, const W* wp, float* y, int M, int N, int K, int p, int np, Ahead ahead,
                              bool cold) {
  const int r = M % kRows, cols = N - p * kPanel;
  int tiles = M / kRows + (r != 0);
  int m = 0;
  for (; m + kRows <= M; m += kRows) {
    const float* xm = x + std::size_t(m) * K;
    float* ym = y + std::size_t(m) * N + p * kPanel;
    const int self = cold && m == 0 ? kSelfAhead : 0;
    if (np == 2) tile_avx512<kRows, 2>(xm, wp, ym, N, K, cols, ahead.take(tiles--), self);
    else tile_avx512<kRows, 1>(xm, wp, ym, N, K, cols, ahead.take(tiles--), self);
  }
  if (r == 0) return;
  const float* xm = x + std::size_t(m) * K;
  float* ym = y + std::size_t(m) * N + p * kPanel;
  if (np == 2) tail_tile<2>(r, xm, wp, ym, N, K, cols, ahead.take(tiles--));
  else tail_tile<1>(r, xm, wp, ym, N, K, cols, ahead.take(tiles--));
}

}  // namespace

template <class W>
LADLE_AVX512 void range_avx512(const float* x, const W* w, float* y, int M, int N, int K, int p_begin, int p_end) {
  const std::size_t stride = std::size_t(K) * kPanel;
  int p = p_begin;
  if (M == 1) {
    // One row: W streams from memory once, as in range_avx2 (four panels per tile, each fetched
    // kSelfAhead steps ahead).
    for (; p + 4 <= p_end; p += 4)
      tile_avx512<1, 4>(x, w + p * stride, y + p * kPanel, N, K, N - p * kPanel, Ahead{}, kSelfAhead);
    for (; p < p_end; ++p) tile_avx512<1, 1>(x, w + p * stride, y + p * kPanel, N, K, N - p * kPanel);
    return;
  }
  if constexpr (std::is_same_v<W, Half>) {
    if (M >= kWidenRows && K <= kWidenMaxK) {  // widened once per group, as in range_avx2
      static thread_local std::vector<float> wide;
      if (wide.size() < 2 * stride) wide.resize(2 * stride);
      for (; p < p_end; p += 2) {
        const int np = std::min(2, p_end - p);
        const Half* src = w + p * stride;
        for (std::size_t i = 0; i < np * stride; i += kPanel) _mm512_storeu_ps(wide.data() + i, load16(src + i));
        rows_avx512(x, wide.data(), y, M, N, K, p, np, Ahead{}, false);
      }
      return;
    }
  }
  for (; p < p_end; p += 2) {
    const int np = std::min(2, p_end - p), next = std::min(2, p_end - p - np);
    const Ahead ahead{reinterpret_cast<const char*>(w + (p + np) * stride), int(next * stride * sizeof(W) / 64)};
    rows_avx512(x, w + p * stride, y, M, N, K, p, np, ahead, p == p_begin);
  }
}

template void range_avx512<float>(const float*, const float*, float*, int, int, int, int, int);
template void range_avx512<Half>(const float*, const Half*, float*, int, int, int, int, int);
template void range_avx512<std::int8_t>(const float*, const std::int8_t*, float*, int, int, int, int, int);

}  // namespace ladle::model::kernels

#endif  // __x86_64__
