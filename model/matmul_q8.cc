// matmul_q8: the portable and AVX2 kernels on block-quantized int8 panels (model/q8_panels.h)
// with float activations, `--weights q8 --q8-activations float`; the AVX-512 one is
// model/matmul_q8_avx512.cc, the int8-activation kernels (the default) model/matmul_q8_int8.cc
// and model/matmul_q8_vnni.cc. model/matmul.cc dispatches.
//
// Every output is the float block chain of the NOTE(q8) in model/matmul.h: per block of 32 along
// K, partial = fma chain of x[k] · q[k] from 0, then acc = fma(partial, d, acc). All kernels
// compute exactly those fmas, so they give the same bits, for any M. q is widened to float
// (exact), a row of a 4-row group taken out of each 32-bit lane with two shifts.
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

void range_q8_portable(const float* x, const std::uint8_t* w, float* y, int M, int N, int K, int p_begin, int p_end) {
  const std::size_t stride = q8_panel_bytes(K);
  for (int p = p_begin; p < p_end; ++p) {
    const std::uint8_t* panel = w + std::size_t(p) * stride;
    const int cols = std::min(kPanel, N - p * kPanel);
    for (int m = 0; m < M; ++m) {
      float acc[kPanel] = {};
      const float* xr = x + std::size_t(m) * K;
      const std::uint8_t* block = panel;
      for (int k0 = 0; k0 < K; k0 += kQ8Block, block += kQ8BlockBytes) {
        const int kn = std::min(kQ8Block, K - k0);
        float part[kPanel] = {};
        for (int k = 0; k < kn; ++k)
          for (int c = 0; c < kPanel; ++c)
            part[c] = std::fma(xr[k0 + k], float(std::int8_t(block[q8_at(k, c)])), part[c]);
        Half d[kPanel];
        std::memcpy(d, block + std::size_t(q8_block_rows(kn)) * kPanel, sizeof d);
        for (int c = 0; c < kPanel; ++c) acc[c] = std::fma(part[c], half_to_float(d[c]), acc[c]);
      }
      std::memcpy(y + std::size_t(m) * N + std::size_t(p) * kPanel, acc, std::size_t(cols) * sizeof(float));
    }
  }
}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace {

// Row I of a group: each 32-bit lane holds one column's 4 int8 (model/q8_panels.h); I's byte,
// sign-extended, widened.
template <int I>
inline __m256 lane_row(__m256i v) {
  if constexpr (I == 3) return _mm256_cvtepi32_ps(_mm256_srai_epi32(v, 24));
  else return _mm256_cvtepi32_ps(_mm256_srai_epi32(_mm256_slli_epi32(v, 24 - 8 * I), 24));
}
inline __m256i load32(const std::uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// part[i][j] += x[i][k] · row I of raw[j] for the MR rows of x (row stride K).
template <int I, int MR, int NV>
inline void fma_row(const float* x, int K, int k, const __m256i (&raw)[NV], __m256 (&part)[MR][NV]) {
  __m256 b[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) b[j] = lane_row<I>(raw[j]);
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    const __m256 a = _mm256_broadcast_ss(x + std::size_t(i) * K + k);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) part[i][j] = _mm256_fmadd_ps(a, b[j], part[i][j]);
  }
}

inline __m256 scales8(const std::uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Bytes ahead of its current row that a one-row tile prefetches in each of its panels.
constexpr std::size_t kAheadBytes = 1024;

// y[0..MR) × [0..min(cols, NP·kPanel)) (row stride ldy) for the MR rows of x (row stride K) and
// the NP consecutive q8 panels at `w` (panel stride q8_panel_bytes(K)). The partial sums of a
// block live in registers (MR·2·NP of them); the accumulators, touched once per block, in `acc`.
template <int MR, int NP, bool kPrefetch = false>
inline void tile_q8_avx2(const float* x, const std::uint8_t* w, float* y, int ldy, int K, int cols) {
  constexpr int NV = 2 * NP;
  const std::size_t stride = q8_panel_bytes(K);
  __m256 acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_setzero_ps();
  const std::uint8_t* block = w;
  for (int k0 = 0; k0 < K; k0 += kQ8Block, block += kQ8BlockBytes) {
    const int kn = std::min(kQ8Block, K - k0);
    __m256 part[MR][NV];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) part[i][j] = _mm256_setzero_ps();
    for (int k = 0; k < kn; k += kQ8Group) {
      const std::uint8_t* group = block + std::size_t(k / kQ8Group) * kQ8GroupBytes;
      if constexpr (kPrefetch)
#pragma GCC unroll 8
        for (int p = 0; p < NP; ++p) _mm_prefetch(reinterpret_cast<const char*>(group + p * stride + kAheadBytes), _MM_HINT_T0);
      __m256i raw[NV];
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p) {
        raw[2 * p] = load32(group + p * stride);
        raw[2 * p + 1] = load32(group + p * stride + 32);
      }
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
      const __m256 d0 = scales8(scales + p * stride), d1 = scales8(scales + p * stride + 16);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        acc[i][2 * p] = _mm256_fmadd_ps(part[i][2 * p], d0, acc[i][2 * p]);
        acc[i][2 * p + 1] = _mm256_fmadd_ps(part[i][2 * p + 1], d1, acc[i][2 * p + 1]);
      }
    }
  }
  store_tile_avx2(acc, y, ldy, cols);
}

}  // namespace

void range_q8_avx2(const float* x, const std::uint8_t* w, float* y, int M, int N, int K, int p_begin, int p_end) {
  const std::size_t stride = q8_panel_bytes(K);
  int p = p_begin;
  if (M == 1) {
    // One row (single-stream decode): W streams from memory once; two panels per tile keep four
    // fma chains in flight and fit the 16 registers; each panel prefetched kAheadBytes ahead.
    for (; p + 2 <= p_end; p += 2) tile_q8_avx2<1, 2, true>(x, w + p * stride, y + p * kPanel, N, K, N - p * kPanel);
    for (; p < p_end; ++p) tile_q8_avx2<1, 1, true>(x, w + p * stride, y + p * kPanel, N, K, N - p * kPanel);
    return;
  }
  // Tiles of 6 rows × one panel (12 partial sums + 2 weight vectors + 1 broadcast = 15 of the 16
  // registers), then the last M % 6 rows.
  for (; p < p_end; ++p) {
    const std::uint8_t* wp = w + p * stride;
    const int cols = N - p * kPanel;
    int m = 0;
    for (; m + 6 <= M; m += 6)
      tile_q8_avx2<6, 1>(x + std::size_t(m) * K, wp, y + std::size_t(m) * N + p * kPanel, N, K, cols);
    const float* xm = x + std::size_t(m) * K;
    float* ym = y + std::size_t(m) * N + p * kPanel;
    switch (M - m) {
      case 0: break;
      case 1: tile_q8_avx2<1, 1>(xm, wp, ym, N, K, cols); break;
      case 2: tile_q8_avx2<2, 1>(xm, wp, ym, N, K, cols); break;
      case 3: tile_q8_avx2<3, 1>(xm, wp, ym, N, K, cols); break;
      case 4: tile_q8_avx2<4, 1>(xm, wp, ym, N, K, cols); break;
      default: tile_q8_avx2<5, 1>(xm, wp, ym, N, K, cols); break;
    }
  }
}

#pragma GCC pop_options
#endif

}  // namespace ladle::model::kernels
