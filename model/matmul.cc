#include "model/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ladle::model {

namespace {

// Rows of x kept hot in L2 while W streams past: about 256 KiB of x per block, in tiles of 3.
int rows_per_block(int K) { return std::max(3, int((256 * 1024) / (std::size_t(K) * 4)) / 3 * 3); }

// NOTE(matmul): half W is widened in the register tile (one vcvtph2ps per 8-weight load), at
// every M. Widening each NR-row W panel once into a per-thread fp32 scratch and reusing the fp32
// tile was measured too (tasks with >= 8 rows): 0.8-1.2x the fp32 kernel's time, against
// 0.75-0.96x for widening in the tile (one thread, 15M/110M shapes, M = 4..64): halving W's
// cache traffic outweighs the conversions. Either way the bits are the same.

// ---------------------------------------------------------------------------------------------
// Portable kernel: lane l of an 8-wide accumulator sums k ≡ l (mod 8) with fma, then the tree
// ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), exactly what the AVX2 kernel's hsum does.
float reduce_lanes(const float* l) {
  const float s0 = l[0] + l[4], s1 = l[1] + l[5], s2 = l[2] + l[6], s3 = l[3] + l[7];
  return (s0 + s2) + (s1 + s3);
}

inline float widen(float w) { return w; }
inline float widen(Half w) { return half_to_float(w); }

template <class W>
float dot_portable(const float* a, const W* b, int K) {
  float lane[8] = {};
  for (int k = 0; k < K; ++k) lane[k % 8] = std::fma(a[k], widen(b[k]), lane[k % 8]);
  return reduce_lanes(lane);
}

template <class W>
void range_portable(const float* x, const W* w, float* y, int M, int N, int K, int n_begin, int n_end) {
  for (int m = 0; m < M; ++m)
    for (int n = n_begin; n < n_end; ++n)
      y[std::size_t(m) * N + n] = dot_portable(x + std::size_t(m) * K, w + std::size_t(n) * K, K);
}

#if defined(__x86_64__)
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA kernel (F16C for half W). A register tile of MR rows of x × NR rows of W: MR·NR
// accumulators, each one output element's eight lanes.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

inline float hsum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // l_i + l_{i+4}
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                          // (s0+s2), (s1+s3)
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Eight W values as floats, and the last K % 8 of a row (missing lanes 0, like the x tail).
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const Half* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 load_tail(const float* p, __m256i mask, int) { return _mm256_maskload_ps(p, mask); }
inline __m256 load_tail(const Half* p, __m256i, int n) {
  alignas(16) Half t[8] = {};
  std::memcpy(t, p, std::size_t(n) * sizeof(Half));
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(t)));
}

// y[m0.., n0..] for MR rows of x and the NR consecutive rows of W starting at `w`. With kAhead,
// `ahead` is the next NR·K weights, prefetched at the pace this tile consumes its own.
template <int MR, int NR, bool kAhead = false, class W>
inline void tile_avx2(const float* x, const W* w, float* y, int N, int K, int m0, int n0, __m256i tail_mask,
                      const W* ahead = nullptr) {
  __m256 acc[MR][NR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) acc[i][j] = _mm256_setzero_ps();
  const float* xr[MR];
  const W* wr[NR];
  for (int i = 0; i < MR; ++i) xr[i] = x + std::size_t(m0 + i) * K;
  for (int j = 0; j < NR; ++j) wr[j] = w + std::size_t(j) * K;
  int k = 0;
  for (; k + 8 <= K; k += 8) {
    if constexpr (kAhead) {
      const char* p = reinterpret_cast<const char*>(ahead + std::size_t(k) * NR);
#pragma GCC unroll 8
      for (int b = 0; b < int(8 * NR * sizeof(W)); b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
    }
    __m256 a[MR];
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) a[i] = _mm256_loadu_ps(xr[i] + k);
#pragma GCC unroll 8
    for (int j = 0; j < NR; ++j) {
      const __m256 b = load8(wr[j] + k);
#pragma GCC unroll 4
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(a[i], b, acc[i][j]);
    }
  }
  if (k < K) {  // masked tail: missing lanes load as 0 and add fma(0, 0, acc) = acc
    __m256 a[MR];
    for (int i = 0; i < MR; ++i) a[i] = _mm256_maskload_ps(xr[i] + k, tail_mask);
    for (int j = 0; j < NR; ++j) {
      const __m256 b = load_tail(wr[j] + k, tail_mask, K - k);
      for (int i = 0; i < MR; ++i) acc[i][j] = _mm256_fmadd_ps(a[i], b, acc[i][j]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) y[std::size_t(m0 + i) * N + n0 + j] = hsum_avx2(acc[i][j]);
}

// Rows [m_begin, m_end) of x against the NR rows of W at `w` (output columns n0..n0+NR). When
// `next` is set (the following NR-row panel of W), its cache lines are prefetched, spread over
// the row tiles.
// NOTE(matmul): a panel's first row tile otherwise waits on memory for all of its W (a large
// classifier never stays in cache); prefetching the next panel while this one is multiplied
// measured +20-35% on the 15M classifier (N = 32000, K = 288) at M = 32..64.
template <int MR, int NR, class W>
void rows_avx2(const float* x, const W* w, float* y, int N, int K, int m_begin, int m_end, int n0, __m256i mask,
               const W* next = nullptr) {
  const int lines = next ? int((std::size_t(NR) * K * sizeof(W) + 63) / 64) : 0;
  const int per_tile = (lines + std::max(1, (m_end - m_begin) / MR) - 1) / std::max(1, (m_end - m_begin) / MR);
  const char* ahead = reinterpret_cast<const char*>(next);
  int issued = 0;
  int m = m_begin;
  for (; m + MR <= m_end; m += MR) {
    for (int i = 0; i < per_tile && issued < lines; ++i, ++issued) _mm_prefetch(ahead + std::size_t(issued) * 64, _MM_HINT_T0);
    tile_avx2<MR, NR>(x, w, y, N, K, m, n0, mask);
  }
  // Leftover rows: two share one tile (W loaded once for both), a last one goes alone.
  if constexpr (MR > 2) {
    if (m + 2 <= m_end) {
      tile_avx2<2, NR>(x, w, y, N, K, m, n0, mask);
      m += 2;
    }
  }
  for (; m < m_end; ++m) tile_avx2<1, NR>(x, w, y, N, K, m, n0, mask);
}

// Rows [m_begin, m_end) × columns [n_begin, n_end) with tiles of up to MR rows × NR columns.
template <int MR, int NR, class W>
void block_avx2(const float* x, const W* w, float* y, int N, int K, int m_begin, int m_end, int n_begin, int n_end,
                __m256i mask) {
  int n = n_begin;
  for (; n + NR <= n_end; n += NR) {
    const W* next = n + 2 * NR <= n_end ? w + std::size_t(n + NR) * K : nullptr;
    rows_avx2<MR, NR>(x, w + std::size_t(n) * K, y, N, K, m_begin, m_end, n, mask, next);
  }
  for (; n < n_end; ++n) rows_avx2<1, 1>(x, w + std::size_t(n) * K, y, N, K, m_begin, m_end, n, mask);
}

// One row of x (decode of a single sequence): W streams from memory once, so the speed is the
// memory's. The NR rows of a tile are NR·K contiguous weights read as NR short streams; with
// half W (rows of 2·K bytes) the hardware prefetchers ramp up too late, so each tile prefetches
// the next one linearly (+20-40% GB/s here). fp32 W did not gain from it, so it is left alone.
template <int NR, class W>
void gemv_avx2(const float* x, const W* w, float* y, int N, int K, int n_begin, int n_end, __m256i mask) {
  constexpr bool kAhead = std::is_same_v<W, Half>;
  int n = n_begin;
  for (; n + NR <= n_end; n += NR) {
    const W* panel = w + std::size_t(n) * K;
    if (kAhead && n + 2 * NR <= N)  // the next tile lies inside W
      tile_avx2<1, NR, kAhead>(x, panel, y, N, K, 0, n, mask, panel + std::size_t(NR) * K);
    else
      tile_avx2<1, NR>(x, panel, y, N, K, 0, n, mask);
  }
  for (; n < n_end; ++n) tile_avx2<1, 1>(x, w + std::size_t(n) * K, y, N, K, 0, n, mask);
}

template <class W>
void range_avx2(const float* x, const W* w, float* y, int M, int N, int K, int n_begin, int n_end) {
  alignas(32) int lanes[8];
  for (int l = 0; l < 8; ++l) lanes[l] = (l < K % 8) ? -1 : 0;
  const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(lanes));
  if (M == 1) {
    gemv_avx2<8>(x, w, y, N, K, n_begin, n_end, mask);
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

// The half kernel also needs F16C (every AVX2 CPU so far has it, but the bits say so separately).
bool cpu_can_run(bool half) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && (!half || __builtin_cpu_supports("f16c"));
}
#endif

template <class W>
using RangeFn = void (*)(const float*, const W*, float*, int, int, int, int, int);

template <class W>
RangeFn<W> pick_kernel() {
#if defined(__x86_64__)
  if (cpu_can_run(std::is_same_v<W, Half>)) return range_avx2<W>;
#endif
  return range_portable<W>;
}

const RangeFn<float> kKernel = pick_kernel<float>();
const RangeFn<Half> kKernelHalf = pick_kernel<Half>();

template <class W>
void run_matmul(RangeFn<W> kernel, const float* x, const W* w, float* y, int M, int N, int K, ThreadPool* pool) {
  // Tasks of kColumns output columns (a multiple of every register tile's width), claimed
  // dynamically by the pool's threads. Fewer, wider tasks when M is large keep W's reuse high.
  constexpr int kColumns = 64;
  const int columns = M >= 16 ? 2 * kColumns : kColumns;
  const int tasks = (N + columns - 1) / columns;
  // Below ~64K multiply-adds a fork/join costs more than it saves (tiny models, tests).
  constexpr long kMinParallelMacs = 1L << 16;
  if (pool == nullptr || tasks == 1 || long(M) * N * K < kMinParallelMacs) {
    kernel(x, w, y, M, N, K, 0, N);
    return;
  }
  pool->parallel_for(tasks, [&](int t, int) { kernel(x, w, y, M, N, K, t * columns, std::min(N, (t + 1) * columns)); });
}

}  // namespace

void matmul(const float* x, const float* w, float* y, int M, int N, int K, ThreadPool* pool) {
  run_matmul(kKernel, x, w, y, M, N, K, pool);
}

void matmul(const float* x, const Half* w, float* y, int M, int N, int K, ThreadPool* pool) {
  run_matmul(kKernelHalf, x, w, y, M, N, K, pool);
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

void matmul_portable(const float* x, const Half* w, float* y, int M, int N, int K) {
  range_portable(x, w, y, M, N, K, 0, N);
}

const char* matmul_kernel_name() { return kKernel == range_portable<float> ? "portable" : "avx2"; }

}  // namespace ladle::model
