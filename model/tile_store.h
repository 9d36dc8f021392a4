// tile_store: writing a kernel's register tile of fp32 outputs to y, for the q8 kernels of
// model/matmul_q8*.cc: MR rows (row stride ldy) of whole vectors, or, in a matrix's last partial
// panel, only its first `cols` columns through masked stores. One AVX2 flavour (vectors of 8) and
// one AVX-512 flavour (vectors of 16, one per panel). Include only from kernel .cc files, after
// <immintrin.h>; the AVX2 part sits in its own target region, like its callers'.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "model/matmul.h"
#include "model/matmul_kernels.h"

namespace ladle::model::kernels {

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

// Lanes [0, n) of a store mask (n clamped to 0..8).
inline __m256i lanes_below(int n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

// acc[i][j] to y[i][8j .. 8j + 8), whole when cols covers all NV vectors, else the first cols.
template <int MR, int NV>
inline void store_tile_avx2(const __m256 (&acc)[MR][NV], float* y, int ldy, int cols) {
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      float* out = y + std::size_t(i) * ldy + 8 * j;
      if (cols >= NV * 8) _mm256_storeu_ps(out, acc[i][j]);
      else if (8 * j < cols) _mm256_maskstore_ps(out, lanes_below(cols - 8 * j), acc[i][j]);
    }
}

#pragma GCC pop_options

// acc[i][j] to y[i][kPanel·j ..), whole when cols covers all NP panels, else the first cols.
template <int MR, int NP>
LADLE_AVX512 inline void store_tile_avx512(const __m512 (&acc)[MR][NP], float* y, int ldy, int cols) {
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NP; ++j) {
      float* out = y + std::size_t(i) * ldy + kPanel * j;
      if (cols >= NP * kPanel) {
        _mm512_storeu_ps(out, acc[i][j]);
      } else {
        const int n = std::clamp(cols - kPanel * j, 0, kPanel);
        _mm512_mask_storeu_ps(out, __mmask16((1u << n) - 1), acc[i][j]);
      }
    }
}

}  // namespace ladle::model::kernels

#endif  // __x86_64__
