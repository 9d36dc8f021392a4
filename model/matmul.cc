#include "model/matmul.h"

#include <algorithm>
#include <cmath>
#include <functional>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ladle::model {

namespace {

// Rows of x kept hot in L2 while W streams past: about 256 KiB of x per block, in tiles of 3.
int rows_per_block(int K) { return std::max(3, int((256 * 1024) / (std::size_t(K) * 4)) / 3 * 3); }

// ---------------------------------------------------------------------------------------------
// Portable kernel: lane l of an 8-wide accumulator sums k ≡ l (mod 8) with fma, then the tree
// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), exactly what the AVX2 kernel's hsum does.
float reduce_lanes(const float* l) {
  const float s0 = l[0] + l[4], s1 = l[1] + l[5], s2 = l[2] + l[6], s3 = l[3] + l[7];
  return (s0 + s2) + (s1 + s3);
}

float dot_portable(const float* a, const float* b, int K) {
  float lane[8] = {};
  for (int k = 0; k < K; ++k) lane[k % 8] = std::fma(a[k], b[k], lane[k % 8]);
  return reduce_lanes(lane);
}

void range_portable(const float* x, const float* w, float* y, int M, int N, int K, int n_begin,
                    int n_end) {
  for (int m = 0; m < M; ++m)
    for (int n = n_begin; n < n_end; ++n)
      y[std::size_t(m) * N + n] = dot_portable(x + std::size_t(m) * K, w + std::size_t(n) * K, K);
}

#if defined(__x86_64__)
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA kernel. A register tile of MR rows of x × NR rows of W: MR·NR accumulators, each
// one output element's eight lanes.
#pragma GCC push_options
#pragma GCC target("avx2,fma")

inline float hsum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // l_i + l_{i+4}
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                          // (s0+s2), (s1+s3)
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

template <int MR, int NR>
inline void tile_avx2(const float* x, const float* w, float* y, int N, int K, int m0, int n0,
                      __m256i tail_mask) {
  __m256 acc[MR][NR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  const float* xr[MR];
  const float* wr[NR];
  for (int i = 0; i < MR; ++i) xr[i] = x + std::size_t(m0 + i) * K;
  for (int j = 0; j < NR; ++j) wr[j] = w + std::size_t(n0 + j) * K;
  int k = 0;
  for (; k + 8 <= K; k += 8) {
    __m256 a[MR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) a[i] = _mm256_loadu_ps(xr[i] + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      const __m256 b = _mm256_loadu_ps(wr[j] + k);
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(a[i], b, acc[i][j]);
    }
  }
  if (k < K) {  // masked tail: missing lanes load as 0 and add fma(0, 0, acc) = acc
    __m256 a[MR];
    for (int i = 0; i < MR; ++i) a[i] = _mm256_maskload_ps(xr[i] + k, tail_mask);
    for (int j = 0; j < NR; ++j) {
      const __m256 b = _mm256_maskload_ps(wr[j] + k, tail_mask);
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(a[i], b, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) y[std::size_t(m0 + i) * N + n0 + j] = hsum_avx2(acc[i][j]);
}

// Rows [m_begin, m_end) × columns [n_begin, n_end) with tiles of up to MR rows × NR columns.
template <int MR, int NR>
void block_avx2(const float* x, const float* w, float* y, int N, int K, int m_begin, int m_end,
                int n_begin, int n_end, __m256i mask) {
  int n = n_begin;
  for (; n + NR <= n_end; n += NR) {
    int m = m_begin;
    for (; m + MR <= m_end; m += MR) tile_avx2<MR, NR>(x, w, y, N, K, m, n, mask);
    for (; m < m_end; ++m) tile_avx2<1, NR>(x, w, y, N, K, m, n, mask);
  }
  for (; n < n_end; ++n)
    for (int m = m_begin; m < m_end; ++m) tile_avx2<1, 1>(x, w, y, N, K, m, n, mask);
}

void range_avx2(const float* x, const float* w, float* y, int M, int N, int K, int n_begin, int n_end) {
  alignas(32) int lanes[8];
  for (int l = 0; l < 8; ++l) lanes[l] = (l < K % 8) ? -1 : 0;
  const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
  if (M == 1) {
    block_avx2<1, 8>(x, w, y, N, K, 0, 1, n_begin, n_end, mask);
    return;
  }
  const int mb = rows_per_block(K);
  for (int m0 = 0; m0 < M; m0 += mb) {
    const int m1 = std::min(M, m0 + mb);
    if (m1 - m0 == 2)
      block_avx2<2, 6>(x, w, y, N, K, m0, m1, n_begin, n_end, mask);
    else
      block_avx2<3, 4>(x, w, y, N, K, m0, m1, n_begin, n_end, mask);
  }
}

#pragma GCC pop_options

bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
bool cpu_has_avx2_fma() { return false; }
#endif

using RangeFn = void (*)(const float*, const float*, float*, int, int, int, int, int);

RangeFn pick_kernel() {
#if defined(__x86_64__)
  if (cpu_has_avx2_fma()) return range_avx2;
#endif
  return range_portable;
}

const RangeFn kKernel = pick_kernel();

}  // namespace

void matmul(const float* x, const float* w, float* y, int M, int N, int K, ThreadPool* pool) {
  // Tasks of kColumns output columns (a multiple of every register tile's width), claimed
  // dynamically by the pool's threads. Fewer, wider tasks when M is large keep W's reuse high.
  constexpr int kColumns = 64;
  const int columns = M >= 16 ? 2 * kColumns : kColumns;
  const int tasks = (N + columns - 1) / columns;
  // Below ~64K multiply-adds a fork/join costs more than it saves (tiny models, tests).
  constexpr long kMinParallelMacs = 1L << 16;
  if (pool == nullptr || tasks == 1 || long(M) * N * K < kMinParallelMacs) {
    kKernel(x, w, y, M, N, K, 0, N);
    return;
  }
  pool->parallel_for(tasks, [&](int t, int) { kKernel(x, w, y, M, N, K, t * columns, std::min(N, (t + 1) * columns)); });
}

void matmul_reference(const float* x, const float* w, float* y, int M, int N, int K) {
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double(x[std::size_t(m) * K + k]) * w[std::size_t(n) * K + k];
      y[std::size_t(m) * N + n] = float(s);
    }
}

void matmul_portable(const float* x, const float* w, float* y, int M, int N, int K) {
  range_portable(x, w, y, M, N, K, 0, N);
}

const char* matmul_kernel_name() { return kKernel == range_portable ? "portable" : "avx2"; }

}  // namespace ladle::model
