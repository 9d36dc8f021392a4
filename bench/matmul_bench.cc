// matmul_bench: the packed outer-product kernel (model::matmul) against the dot-product kernel it
// replaced (kept below as the baseline, AVX2 path of model/matmul.cc at f803969) and OpenBLAS
// sgemm, on the stories15M / stories110M projection shapes, timed alternately in one process so
// that a shared machine's noise hits all of them alike.
//
// usage: matmul_bench [--shapes 15m,110m] [--ms 1,8,32,64] [--threads 2] [--rounds 5] [--min-time 0.05]
//                     [--weights f32|f16] [--cold 0|1] [--isa avx2,avx512]
// Prints GFLOP/s (best round) of each kernel: the old one, the packed kernel at each ISA level of
// --isa (default: every SIMD level of this CPU), OpenBLAS; best/old; and whether every level gave
// the same bits. With --cold 1 every call reads a fresh
// copy of W from memory, as the forward pass does (its weights are far larger than the L3).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <immintrin.h>

#include "bench/bench_args.h"
#include "bench/machine_limits.h"
#include "model/isa.h"
#include "model/matmul.h"
#include "model/thread_pool.h"
#include "model/weights.h"

namespace old_dot {

using ladle::model::Half;
using ladle::model::ThreadPool;

// ---- the dot-product kernel as of f803969 (W in llama2.c's [N × K] layout) -------------------
int rows_per_block(int K) { return std::max(3, int((256 * 1024) / (std::size_t(K) * 4)) / 3 * 3); }

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

template <class W>
void matmul(const float* x, const W* w, float* y, int M, int N, int K, ThreadPool* pool) {
  constexpr int kColumns = 64;
  const int columns = M >= 16 ? 2 * kColumns : kColumns;
  const int tasks = (N + columns - 1) / columns;
  constexpr long kMinParallelMacs = 1L << 16;
  if (pool == nullptr || tasks == 1 || long(M) * N * K < kMinParallelMacs) {
    range_avx2(x, w, y, M, N, K, 0, N);
    return;
  }
  pool->parallel_for(tasks, [&](int t, int) { range_avx2(x, w, y, M, N, K, t * columns, std::min(N, (t + 1) * columns)); });
}

}  // namespace old_dot

namespace {

using ladle::model::Half;
using ladle::model::PackedMatrix;

struct Shape {
  int N, K;
};

struct Options {
  std::vector<std::string> shapes = {"15m", "110m"};
  std::vector<int> ms = {1, 8, 32, 64};
  int threads = 2;
  int rounds = 5;
  double min_time = 0.05;  // seconds per kernel per round
  bool half = false;
  bool cold = false;  // W streams from memory (see run_shape)
  std::vector<ladle::model::Isa> isas;  // levels the packed kernel is timed at
};

using ladle::bench::seconds_since;

// Calls fn until min_time has passed (at least twice); returns seconds per call.
double time_calls(const std::function<void()>& fn, double min_time) {
  fn();  // warm: W into whatever cache level it fits
  int n = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (n < 2 || seconds_since(t0) < min_time) fn(), ++n;
  return seconds_since(t0) / n;
}

void run_shape(const Shape& s, const Options& o, ladle::model::ThreadPool* pool) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const int max_m = *std::max_element(o.ms.begin(), o.ms.end());
  std::vector<float> w(std::size_t(s.N) * s.K), x(std::size_t(max_m) * s.K);
  for (float& v : w) v = u(rng);
  for (float& v : x) v = u(rng);
  std::vector<Half> w16(w.size());
  ladle::model::floats_to_halves(w, w16);
  if (o.half) ladle::model::halves_to_floats(w16, w);  // every kernel sees the same values
  std::vector<float> packed(ladle::model::packed_elements(s.N, s.K));
  std::vector<Half> packed16(packed.size());
  ladle::model::pack_rows(w.data(), s.N, s.K, 0, packed.data());
  ladle::model::pack_rows(w16.data(), s.N, s.K, 0, packed16.data());
  // --cold: enough copies of every W to stream ~96 MB per round trip, more than the L3, as in a
  // forward step (whose matrices together never stay cached); each call takes the next copy.
  const std::size_t w_bytes = w.size() * (o.half ? sizeof(Half) : sizeof(float));
  const int copies = o.cold ? int(std::max<std::size_t>(1, ((std::size_t(96) << 20) + w_bytes - 1) / w_bytes)) : 1;
  const std::vector<std::vector<float>> ws(copies, w), packeds(copies, packed);
  const std::vector<std::vector<Half>> w16s(copies, w16), packed16s(copies, packed16);
  int call = 0;  // the copy the next call reads: callers go round in turn
  std::vector<float> y_old(std::size_t(max_m) * s.N), y_new(y_old.size()), y_blas(y_old.size());
  for (int M : o.ms) {
    auto old_fn = [&] {
      const int c = call++ % copies;
      if (o.half) old_dot::matmul(x.data(), w16s[c].data(), y_old.data(), M, s.N, s.K, pool);
      else old_dot::matmul(x.data(), ws[c].data(), y_old.data(), M, s.N, s.K, pool);
    };
    auto new_fn = [&] {
      const int c = call++ % copies;
      const PackedMatrix pm = o.half ? PackedMatrix{nullptr, packed16s[c].data(), s.N, s.K}
                                     : PackedMatrix{packeds[c].data(), nullptr, s.N, s.K};
      ladle::model::matmul(x.data(), pm, y_new.data(), M, pool);
    };
    auto blas_fn = [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, s.N, s.K, 1.0f, x.data(), s.K, ws[call++ % copies].data(),
                  s.K, 0.0f, y_blas.data(), s.N);
    };
    double t_old = 1e30, t_blas = 1e30;
    std::vector<double> t_new(o.isas.size(), 1e30);
    std::vector<std::vector<float>> y_levels(o.isas.size());
    for (int r = 0; r < o.rounds; ++r) {  // alternate, keep each kernel's best round
      t_old = std::min(t_old, time_calls(old_fn, o.min_time));
      for (std::size_t i = 0; i < o.isas.size(); ++i) {
        const ladle::model::ScopedIsa level(o.isas[i]);
        t_new[i] = std::min(t_new[i], time_calls(new_fn, o.min_time));
        y_levels[i] = y_new;
      }
      openblas_set_num_threads(o.threads);
      t_blas = std::min(t_blas, time_calls(blas_fn, o.min_time));
      openblas_set_num_threads(1);  // its spinning workers would steal the cores from ours
    }
    double max_diff = 0;  // a sanity check that both compute the same product
    for (std::size_t i = 0; i < std::size_t(M) * s.N; ++i) max_diff = std::max(max_diff, double(std::abs(y_old[i] - y_new[i])));
    bool same = true;  // every level's bits (model/matmul.h's contract)
    for (const auto& y : y_levels) same = same && std::memcmp(y.data(), y_new.data(), std::size_t(M) * s.N * sizeof(float)) == 0;
    const double gflop = 2.0 * M * s.N * s.K / 1e9;
    std::printf("%6d %6d %4d %10.1f", s.N, s.K, M, gflop / t_old);
    for (double t : t_new) std::printf(" %10.1f", gflop / t);
    std::printf(" %10.1f %8.2f %10.2g %5s\n", gflop / t_blas, t_old / *std::min_element(t_new.begin(), t_new.end()),
                max_diff, same ? "yes" : "NO");
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string shapes = "15m,110m", ms = "1,8,32,64", weights = "f32";
  int cold = 0;
  std::string isas;
  ladle::FlagSet flags("matmul_bench [options]",
                       "The packed matmul kernel against the dot-product kernel it replaced and OpenBLAS, "
                       "timed alternately in one process.");
  flags.add("--shapes", &shapes, "comma-separated shapes: 15m, 110m");
  flags.add("--ms", &ms, "comma-separated rows of x (M)");
  flags.add("--threads", &o.threads, "threads");
  flags.add("--rounds", &o.rounds, "alternating rounds (the best is kept)");
  flags.add("--min-time", &o.min_time, "seconds per kernel per round");
  flags.add("--weights", &weights, "W as f32 or f16");
  flags.add("--cold", &cold, "1: every call reads a fresh copy of W from memory");
  flags.add("--isa", &isas, "comma-separated ISA levels to time the packed kernel at: portable, avx2, avx512 "
                            "(default: every SIMD level of this CPU)");
  if (auto code = ladle::bench::parse_flags(flags, argc, argv)) return *code;
  auto levels = ladle::bench::parse_isa_list(isas);
  if (!levels) {
    std::fprintf(stderr, "%s\n", levels.error().message.c_str());
    return 2;
  }
  o.isas = *levels;
  if ((weights != "f32" && weights != "f16") || (cold != 0 && cold != 1)) {
    std::fprintf(stderr, "--weights takes f32 or f16, --cold 0 or 1\n");
    return 2;
  }
  o.shapes = ladle::bench::split_commas(shapes);
  o.ms.clear();
  for (const auto& m : ladle::bench::split_commas(ms)) o.ms.push_back(std::max(1, std::atoi(m.c_str())));
  o.threads = std::max(1, o.threads);
  o.rounds = std::max(1, o.rounds);
  o.half = weights == "f16";
  o.cold = cold == 1;
  ladle::model::ThreadPool pool(o.threads);
  openblas_set_num_threads(1);
  std::printf("GFLOP/s, best of %d alternating rounds, %d thread(s), %s W%s; old = dot-product kernel (f803969), then "
              "the packed kernel at each ISA level, OpenBLAS with its %s kernel; same = every level gave the same bits\n",
              o.rounds, o.threads, o.half ? "f16" : "f32", o.cold ? " from memory" : "", openblas_get_corename());
  std::printf("%6s %6s %4s %10s", "N", "K", "M", "old");
  for (ladle::model::Isa isa : o.isas) std::printf(" %10s", ladle::model::isa_name(isa));
  std::printf(" %10s %8s %10s %5s\n", "openblas", "best/old", "max|diff|", "same");
  for (const auto& name : o.shapes) {
    const std::vector<Shape> shapes = name == "110m"
        ? std::vector<Shape>{{768, 768}, {2048, 768}, {768, 2048}, {32000, 768}}
        : std::vector<Shape>{{288, 288}, {768, 288}, {288, 768}, {32000, 288}};
    for (const Shape& s : shapes) run_shape(s, o, o.threads > 1 ? &pool : nullptr);
  }
  return 0;
}
