#include "model/matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "model/cpu_features.h"
#include "model/isa.h"
#include "model/matmul_ggml.h"
#include "model/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ladle::model {

namespace {

// Panels of an N-column output (the last one possibly partial).
int panels_of(int N) { return (N + kPanel - 1) / kPanel; }

template <class W>
void pack_rows_impl(const W* w, int rows, int K, int n0, W* packed) {
  for (int r = 0; r < rows; ++r) {
    const int n = n0 + r;
    W* col = packed + std::size_t(n / kPanel) * K * kPanel + n % kPanel;
    const W* src = w + std::size_t(r) * K;
    for (int k = 0; k < K; ++k) col[std::size_t(k) * kPanel] = src[k];
  }
}

inline float widen(float w) { return w; }
inline float widen(Half w) { return half_to_float(w); }
inline float widen(std::int8_t w) { return float(w); }

}  // namespace

namespace kernels {

// ---------------------------------------------------------------------------------------------
// Portable kernel: panels [p_begin, p_end) for every row, each output one std::fma chain over k.
template <class W>
void range_portable(const float* x, const W* w, float* y, int M, int N, int K, int p_begin, int p_end) {
  for (int p = p_begin; p < p_end; ++p) {
    const W* panel = w + std::size_t(p) * K * kPanel;
    const int cols = std::min(kPanel, N - p * kPanel);
    for (int m = 0; m < M; ++m) {
      float acc[kPanel] = {};
      const float* xr = x + std::size_t(m) * K;
      for (int k = 0; k < K; ++k)
        for (int c = 0; c < kPanel; ++c) acc[c] = std::fma(xr[k], widen(panel[std::size_t(k) * kPanel + c]), acc[c]);
      std::memcpy(y + std::size_t(m) * N + std::size_t(p) * kPanel, acc, std::size_t(cols) * sizeof(float));
    }
  }
}

#if defined(__x86_64__)
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA kernel (F16C for half W): register tiles of MR rows × NP panels (MR·2·NP
// accumulators, one vector per 8 outputs), one broadcast of x[m][k] and one fma per accumulator
// for every k.
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace {

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const Half* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline __m256 load8(const std::int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// Lanes [0, n) of a store mask (n clamped to 0..8).
inline __m256i lanes_below(int n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

// y[0..MR) × [0..min(cols, NP·kPanel)) (row stride ldy) for the MR rows of x at `x` (row stride
// K) and the NP consecutive panels at `w` (panel stride K·kPanel). Prefetches ahead.lines lines
// spread evenly over its K steps, so that they arrive while this tile computes, and with
// self_ahead > 0 row k + self_ahead of its first panel at step k (of all NP panels when MR = 1).
// NOTE(matmul): spread, not one per k from the start: a burst fills the miss buffers and stalls
// the fmas behind it. Timed against the burst alternately in one process with W streaming from
// memory (the regime of matmul_bench --cold 1), one thread, M = 32: +4-20%.
template <int MR, int NP, class W>
inline void tile_avx2(const float* x, const W* w, float* y, int ldy, int K, int cols, Ahead ahead = {},
                      int self_ahead = 0) {
  constexpr int NV = 2 * NP;
  __m256 acc[MR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_setzero_ps();
  const std::size_t stride = std::size_t(K) * kPanel;
  SpreadPrefetch spread(ahead, K);
  for (int k = 0; k < K; ++k) {
    spread.step();
    if (self_ahead > 0 && k % (4 / sizeof(W)) == 0)
#pragma GCC unroll 8
      for (int p = 0; p < (MR == 1 ? NP : 1); ++p)
        _mm_prefetch(reinterpret_cast<const char*>(w + p * stride + std::size_t(k + self_ahead) * kPanel), _MM_HINT_T0);
    __m256 b[NV];
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      b[2 * p] = load8(w + p * stride + std::size_t(k) * kPanel);
      b[2 * p + 1] = load8(w + p * stride + std::size_t(k) * kPanel + 8);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m256 a = _mm256_broadcast_ss(x + std::size_t(i) * K + k);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm256_fmadd_ps(a, b[j], acc[i][j]);
    }
  }
  spread.finish();
  if (cols >= NP * kPanel) {
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) _mm256_storeu_ps(y + std::size_t(i) * ldy + 8 * j, acc[i][j]);
    return;
  }
  // The matrix's last panel. Unrolled like the stores above, so that acc stays in registers.
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j)
      if (8 * j < cols) _mm256_maskstore_ps(y + std::size_t(i) * ldy + 8 * j, lanes_below(cols - 8 * j), acc[i][j]);
}

// Rows [0, M) against panels [p, p + np), np <= 2, read from `wp` (panel p's first element, the
// next K·kPanel later), into y's columns of those panels: tiles of 6 rows per panel, then the
// last M % 6 rows with tiles that keep 8-12 accumulators busy (FMA latency × throughput = 8).
// The tiles prefetch `ahead` (the next panels of the task) between them; if the group is `cold`
// (the task's first: nothing fetched it before), its first row of tiles also fetches its own
// panels kSelfAhead steps ahead.
// NOTE(matmul): a panel's first row tile otherwise waits on memory for all of its W: a forward
// step streams every matrix from memory (together they are far larger than the L3). The own-
// panel prefetch of a task's first group measured +3-10% on the 15M/110M layer shapes at M = 32
// (timed the same way, two threads); most 15M tasks are a single group.
template <class W>
void rows_avx2(const float* x, const W* wp, float* y, int M, int N, int K, int p, int np, Ahead ahead, bool cold) {
  const std::size_t stride = std::size_t(K) * kPanel;
  const int r = M % 6;
  int tiles = M / 6 * np + (r == 0 ? 0 : (np == 2 && r <= 3) ? 1 : np);
  int m = 0;
  for (; m + 6 <= M; m += 6)
    for (int q = p; q < p + np; ++q)
      tile_avx2<6, 1>(x + std::size_t(m) * K, wp + (q - p) * stride, y + std::size_t(m) * N + q * kPanel, N, K,
                      N - q * kPanel, ahead.take(tiles--), cold && m == 0 ? kSelfAhead : 0);
  if (r == 0) return;
  const float* xm = x + std::size_t(m) * K;
  float* ym = y + std::size_t(m) * N;
  if (np == 2 && r <= 3) {
    float* yp = ym + p * kPanel;
    const int cols = N - p * kPanel;
    if (r == 1) tile_avx2<1, 2>(xm, wp, yp, N, K, cols, ahead);
    else if (r == 2) tile_avx2<2, 2>(xm, wp, yp, N, K, cols, ahead);
    else tile_avx2<3, 2>(xm, wp, yp, N, K, cols, ahead);
    return;
  }
  for (int q = p; q < p + np; ++q) {
    const W* wq = wp + (q - p) * stride;
    float* yq = ym + q * kPanel;
    const int cols = N - q * kPanel;
    const Ahead share = ahead.take(tiles--);
    switch (r) {
      case 1: tile_avx2<1, 1>(xm, wq, yq, N, K, cols, share); break;
      case 2: tile_avx2<2, 1>(xm, wq, yq, N, K, cols, share); break;
      case 3: tile_avx2<3, 1>(xm, wq, yq, N, K, cols, share); break;
      case 4: tile_avx2<4, 1>(xm, wq, yq, N, K, cols, share); break;
      default: tile_avx2<5, 1>(xm, wq, yq, N, K, cols, share); break;
    }
  }
}

// Half W with many rows: each group of two panels is widened once into a per-thread float copy
// (at most 2 · 1024 · 16 floats = 128 KiB, L2-resident) and the float tiles run on that, instead
// of every row tile widening the same panels again.
// NOTE(matmul): measured with matmul_bench --shapes 110m --weights f16, built with and without,
// alternated three times (medians): at K = 768 and M >= 64 +3-31 % (2048×768: +10 % at M = 64,
// +31 % at 128, +14 % at 512; the 32000-row classifier +14-16 % at 128-512), within noise for
// 768×768; at M = 32 it lost 2-9 % (W streams from memory once per step there, so the extra copy
// does not pay), and at K = 2048 (a 256 KiB copy) it did not win. Hence M >= 48 and K <= 1024.
// Prefill of a 520-token prompt on the 110M shape (engine_bench --shapes 110m --weights f16,
// cold TTFT, four alternated runs): median ~790 → ~700 ms. The bits are unchanged: widening is
// exact, and the float kernel computes the same chain.

}  // namespace

template <class W>
void range_avx2(const float* x, const W* w, float* y, int M, int N, int K, int p_begin, int p_end) {
  const std::size_t stride = std::size_t(K) * kPanel;
  int p = p_begin;
  if (M == 1) {
    // One row (decode of a single sequence): W streams from memory once; four panels per tile
    // keep eight fma chains in flight.
    // Each of the four panels is fetched kSelfAhead steps ahead of its use.
    // NOTE(matmul): one thread streams only ~13 GB/s of half panels here on the hardware
    // prefetcher alone, under half the machine's read bandwidth. matmul_bench --shapes 110m --ms 1
    // --cold 1, without and with, alternated twice: f16 one thread 12.9-13.2 → 14.6-15.7
    // GFLOP/s, two threads 26-44 → 32-50; f32 two threads 15-26 → 16-26 (at the memory wall
    // already). forward_bench --max-batch 1 --greedy, alternated twice: 110M f16 116 → 138-147
    // tok/s (greedy 124-127 → 151-155), 110M f32 66.5-67.3 → 69.5-70.6, 15M f16 1,479-1,485 →
    // 1,450-1,485, 15M f32 833-839 → 826-831 (mostly L3-resident there).
    for (; p + 4 <= p_end; p += 4)
      tile_avx2<1, 4>(x, w + p * stride, y + p * kPanel, N, K, N - p * kPanel, Ahead{}, kSelfAhead);
    for (; p < p_end; ++p) tile_avx2<1, 1>(x, w + p * stride, y + p * kPanel, N, K, N - p * kPanel);
    return;
  }
  if constexpr (std::is_same_v<W, Half>) {
    if (M >= kWidenRows && K <= kWidenMaxK) {
      static thread_local std::vector<float> wide;
      if (wide.size() < 2 * stride) wide.resize(2 * stride);  // grown once; never zero-filled again
      for (; p < p_end; p += 2) {
        const int np = std::min(2, p_end - p);
        const Half* src = w + p * stride;
        for (std::size_t i = 0; i < np * stride; i += 8)
          _mm256_storeu_ps(wide.data() + i, load8(src + i));
        rows_avx2(x, wide.data(), y, M, N, K, p, np, Ahead{}, false);
      }
      return;
    }
  }
  for (; p < p_end; p += 2) {
    const int np = std::min(2, p_end - p), next = std::min(2, p_end - p - np);
    const Ahead ahead{reinterpret_cast<const char*>(w + (p + np) * stride), int(next * stride * sizeof(W) / 64)};
    rows_avx2(x, w + p * stride, y, M, N, K, p, np, ahead, p == p_begin);
  }
}

#pragma GCC pop_options
#endif

}  // namespace kernels

namespace {

using kernels::RangeFn;

// The portable kernel for W's element type (std::uint8_t: q8 panels).
template <class W>
RangeFn<W> portable_kernel() {
  if constexpr (std::is_same_v<W, std::uint8_t>) return kernels::range_q8_portable;
  else return kernels::range_portable<W>;
}

// The kernel for W's element type at the active ISA level (model/isa.h).
template <class W>
RangeFn<W> kernel() {
#if defined(__x86_64__)
  if constexpr (std::is_same_v<W, std::uint8_t>) {  // q8 panels
    switch (active_isa()) {
      case Isa::kAvx512: return kernels::range_q8_avx512;
      case Isa::kAvx2: return kernels::range_q8_avx2;
      case Isa::kPortable: break;
    }
  } else {
    switch (active_isa()) {
      case Isa::kAvx512: return kernels::range_avx512<W>;
      case Isa::kAvx2: return kernels::range_avx2<W>;
      case Isa::kPortable: break;
    }
  }
#endif
  return portable_kernel<W>();
}

// Calls f(panels) with w's panels at their element type (the one of q8/i8/f16/f32 that is set;
// q8 as its bytes).
template <class F>
void with_panels(const PackedMatrix& w, F&& f) {
  if (w.q8 != nullptr) f(w.q8);
  else if (w.i8 != nullptr) f(w.i8);
  else if (w.f16 != nullptr) f(w.f16);
  else f(w.f32);
}

template <class P>
using Elem = std::remove_const_t<std::remove_pointer_t<P>>;

// Runs range(p_begin, p_end) over all of W's panels, split across `pool`.
template <class Range>
void run_split(Range&& range, int M, int N, int K, ThreadPool* pool) {
  const int panels = panels_of(N);
  // Tasks of a few panels, claimed dynamically by the pool's threads: a multiple of four for one
  // row (the M = 1 tile's width), of two otherwise (rows_avx2's group), about 8 per thread so
  // that even N = 288 splits evenly, and at most 16 panels, so that a thread descheduled on this
  // shared machine leaves little behind (the 32000-row classifier: 0.99-1.2x the speed of 8 tasks
  // per thread, with W from memory at M = 32).
  const int threads = pool ? pool->num_threads() : 1, unit = M == 1 ? 4 : 2;
  const int per_task = std::min(16, std::max(1, panels / (8 * threads * unit)) * unit);
  const int tasks = (panels + per_task - 1) / per_task;
  // Below ~64K multiply-adds a fork/join costs more than it saves (tiny models, tests).
  constexpr long kMinParallelMacs = 1L << 16;
  if (pool == nullptr || tasks == 1 || long(M) * N * K < kMinParallelMacs) {
    range(0, panels);
    return;
  }
  pool->parallel_for(tasks, [&](int t, int) { range(t * per_task, std::min(panels, (t + 1) * per_task)); });
}

template <class W>
void run_matmul(RangeFn<W> kernel, const float* x, const W* w, float* y, int M, int N, int K, ThreadPool* pool) {
  run_split([&](int p0, int p1) { kernel(x, w, y, M, N, K, p0, p1); }, M, N, K, pool);
}

// The int8-activation q8 kernel at the active ISA level.
kernels::RangeQ8iFn q8i_kernel() {
#if defined(__x86_64__)
  static const bool vnni = cpu_supports_avx512_vnni();
  switch (active_isa()) {
    case Isa::kAvx512: return vnni ? kernels::range_q8i_vnni : kernels::range_q8i_avx2;
    case Isa::kAvx2: return kernels::range_q8i_avx2;
    case Isa::kPortable: break;
  }
#endif
  return kernels::range_q8i_portable;
}

bool int8_activations(const PackedMatrix& w) { return w.q8 != nullptr && w.q8_activations == Q8Activations::kInt8; }

// x quantized for the int8 kernels: the calling thread's buffer, reused across calls.
const Q8Rows& quantized(const float* x, int M, int K) {
  static thread_local Q8Rows rows;
  quantize_activations(x, M, K, rows);
  return rows;
}

}  // namespace

std::size_t packed_elements(int N, int K) { return std::size_t(panels_of(N)) * kPanel * K; }

void pack_rows(const float* w, int rows, int K, int n0, float* packed) { pack_rows_impl(w, rows, K, n0, packed); }
void pack_rows(const Half* w, int rows, int K, int n0, Half* packed) { pack_rows_impl(w, rows, K, n0, packed); }

void matmul_panels(const float* x, const PackedMatrix& w, float* y, int M, int p_begin, int p_end) {
  if (w.ggml != nullptr) return matmul_ggml_rows(x, w, y, M, p_begin * kPanel, std::min(w.N, p_end * kPanel));
  if (int8_activations(w)) return q8i_kernel()(quantized(x, M, w.K), w.q8, y, w.N, p_begin, p_end);
  with_panels(w, [&](auto* p) { kernel<Elem<decltype(p)>>()(x, p, y, M, w.N, w.K, p_begin, p_end); });
}

void matmul(const float* x, const PackedMatrix& w, float* y, int M, ThreadPool* pool) {
  if (w.ggml != nullptr) return matmul_ggml(x, w, y, M, pool);
  if (int8_activations(w)) {
    const Q8Rows& xq = quantized(x, M, w.K);
    const auto kernel = q8i_kernel();
    run_split([&](int p0, int p1) { kernel(xq, w.q8, y, w.N, p0, p1); }, M, w.N, w.K, pool);
    return;
  }
  with_panels(w, [&](auto* p) { run_matmul(kernel<Elem<decltype(p)>>(), x, p, y, M, w.N, w.K, pool); });
}

void matmul_reference(const float* x, const float* w, float* y, int M, int N, int K) {
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = 0;
      for (int k = 0; k < K; ++k) s += double(x[std::size_t(m) * K + k]) * w[std::size_t(n) * K + k];
      y[std::size_t(m) * N + n] = float(s);
    }
}

void matmul_portable(const float* x, const PackedMatrix& w, float* y, int M) {
  if (w.ggml != nullptr) return matmul_ggml_portable(x, w, y, M);
  if (int8_activations(w)) return kernels::range_q8i_portable(quantized(x, M, w.K), w.q8, y, w.N, 0, panels_of(w.N));
  with_panels(w, [&](auto* p) { portable_kernel<Elem<decltype(p)>>()(x, p, y, M, w.N, w.K, 0, panels_of(w.N)); });
}

}  // namespace ladle::model
