// matmul_ggml: the activations' Q8_K quantization, the portable and AVX2 kernels on a GGUF file's
// Q4_K / Q6_K blocks, the dispatch by ISA level and the split over the pool by rows of W; the
// AVX-512 (VNNI) kernel is model/matmul_ggml_avx512.cc. Every kernel computes the exact integer
// sums and the fixed float combination of the NOTE(ggml) in model/matmul_ggml.h, so all give the
// same bits for any M.
//
// NOTE(ggml): measured, the Llama-3.2-1B-shaped Q4_K_M file (bench/ggml_matmul_bench: every
// matrix of one step, native beside q8 panels, alternated; AMD EPYC Zen 4, 2 vCPUs, loaded: load
// average 6-8 from other helpers' builds), passes per second of wall time (per CPU-second):
//   float widening, scalar scale decoding      M = 1: 1.44 vs q8 6.19 (0.23x)
//   float widening, table per sub-block        M = 1: 3.13 vs 6.96 (0.45x); M = 8: 0.67x; M = 32: 0.79x
//   Q8_K, VNNI, two-row tiles, prefetched      M = 1: 4.52 vs 7.34 (0.62x; per CPU-s 0.69x);
//                                              M = 8: 1.12x (1.10x); M = 32: 1.16x (1.16x)
//   Q8_K, VNNI, one-row tiles (this)           M = 1: 7.60 vs 6.54 (1.16x; per CPU-s 1.03x);
//                                              M = 8: 1.07x (1.28x); M = 32: 0.99x (1.06x)
// Native-only runs of the two kernels in the same minutes: float 3.0-3.4 passes/s (6.9 per CPU-s),
// Q8_K (two-row tiles) 5.5-6.2 (8.3-8.8). Quiet, W then still in the file's 4 KiB-page mapping:
// 25.9-27.3 passes/s; copied into 2 MiB pages (model/weights.cc) 34.3-38.5, the TLB misses gone.
// At one row the step is bound by the stream of W: without the prefetch the Q8_K kernel ran at
// half the speed, and two-row tiles, whose prepared blocks spill, at two thirds of one-row ones
// (matmul_ggml_avx512.cc).
#include "model/matmul_ggml.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "model/ggml_dequantize.h"
#include "model/gguf_types.h"
#include "model/half.h"
#include "model/isa.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ladle::model {

namespace {

constexpr int kQK = 256;  // weights per super-block

float half_at(const std::uint8_t* p) {
  Half h;
  std::memcpy(&h, p, sizeof h);
  return half_to_float(h);
}

// The eight 6-bit scales (bytes 0..7) and mins (8..15) of a Q4_K super-block's 12 packed bytes,
// as get_scale_min_k4 reads them (ggml's 32-bit mask unpacking, all at once).
void q4k_scales(const std::uint8_t* packed, std::uint8_t out[16]) {
  std::uint32_t u[4];
  std::memcpy(u, packed, 12);
  constexpr std::uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);
  const std::uint32_t mins_low = u[1] & kLow6;
  u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);
  u[2] = mins_low;
  u[0] &= kLow6;
  std::memcpy(out, u, 16);
}

}  // namespace

void quantize_q8k(const float* x, int M, int K, std::int8_t* q, float* d, std::int16_t* bsum) {
  for (std::size_t b = 0; b < std::size_t(M) * (K / kQK); ++b) {
    const float* xb = x + b * kQK;
    std::int8_t* qb = q + b * kQK;
    float max = 0, amax = 0;  // the value of largest magnitude (the first of them), and its magnitude
    for (int j = 0; j < kQK; ++j)
      if (std::fabs(xb[j]) > amax) amax = std::fabs(xb[j]), max = xb[j];
    if (amax == 0) {
      d[b] = 0;
      std::memset(qb, 0, kQK);
    } else {
      const float iscale = -127.f / max;
      for (int j = 0; j < kQK; ++j) qb[j] = std::int8_t(std::min(127, int(std::nearbyint(iscale * xb[j]))));
      d[b] = 1 / iscale;
    }
    for (int g = 0; g < kQK / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += qb[16 * g + j];
      bsum[b * (kQK / 16) + g] = std::int16_t(sum);
    }
  }
}

namespace kernels {

namespace {

// One super-block of Q4_K times the Q8_K block at `xq` (bsum its sums of 16) into the lanes f:
// t_j and u_j of the NOTE in matmul_ggml.h, spelled out.
void q4k_portable(const std::uint8_t* b, const std::int8_t* xq, const std::int16_t* bsum, float d8, float (&f)[16]) {
  std::uint8_t sm[16];
  q4k_scales(b + 4, sm);
  const std::uint8_t* qs = b + 16;
  const float d_d8 = half_at(b) * d8, dmin_d8 = half_at(b + 2) * d8;
  for (int j = 0; j < 16; ++j) {
    int t = 0;
    for (int c = 0; c < 4; ++c)
      for (int i = 0; i < 4; ++i) {
        const int e = 64 * c + 4 * j + i, sub = e / 32, byte = qs[32 * (sub / 2) + e % 32];
        t += sm[sub] * (sub % 2 ? byte >> 4 : byte & 15) * xq[e];
      }
    f[j] = q4k_lane(f[j], d_d8, dmin_d8, t, sm[8 + j / 2] * bsum[j]);
  }
}

// One super-block of Q6_K times a Q8_K block into the lanes f.
void q6k_portable(const std::uint8_t* b, const std::int8_t* xq, const std::int16_t* bsum, float d8, float (&f)[16]) {
  const std::uint8_t *ql = b, *qh = b + 128;
  const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
  const float d_d8 = half_at(b + 208) * d8;
  for (int j = 0; j < 16; ++j) {
    int t = 0;
    for (int c = 0; c < 4; ++c)
      for (int i = 0; i < 4; ++i) {
        const int e = 64 * c + 4 * j + i, h = e / 128, grp = e % 128 / 32, l = e % 32;
        const int lo = ql[64 * h + 32 * (grp % 2) + l], hi = qh[32 * h + l];
        t += sc[e / 16] * ((grp >= 2 ? lo >> 4 : lo & 15) | (((hi >> (2 * grp)) & 3) << 4)) * xq[e];
      }
    f[j] = q6k_lane(f[j], d_d8, t - 32 * sc[j] * bsum[j]);
  }
}

}  // namespace

void ggml_rows_portable(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                        int n_begin, int n_end) {
  const std::size_t row = ggml_matmul_row_bytes(type, K), block = row / (K / kQK);
  const bool q4 = GgmlType(type) == GgmlType::kQ4_K;
  for (int n = n_begin; n < n_end; ++n)
    for (int m = 0; m < M; ++m) {
      float f[16] = {};
      for (int sb = 0; sb < K / kQK; ++sb) {
        const auto* b = reinterpret_cast<const std::uint8_t*>(w) + std::size_t(n) * row + sb * block;
        const std::size_t xb = std::size_t(m) * (K / kQK) + sb;
        (q4 ? q4k_portable : q6k_portable)(b, x.q + xb * kQK, x.bsum + xb * 16, x.d[xb], f);
      }
      y[std::size_t(m) * N + n] = reduce_lanes(f);
    }
}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace {

// Lanes 0..7 and 8..15 of the NOTE's sixteen.
struct Lanes {
  __m256i lo, hi;
};

// Σ over 32 bytes of u8 w · s8 x, times an int16 scale per 16-bit lane, as eight int32: lane j'
// the bytes 4j' .. 4j' + 3 (pmaddubsw pairs stay below 2 · 63 · 127: no saturation).
inline __m256i dot32(__m256i w, const std::int8_t* x, __m256i scales) {
  const __m256i p = _mm256_maddubs_epi16(w, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
  return _mm256_madd_epi16(p, scales);
}

// f (16 floats) updated with the lanes t (and u) as q4k_lane / q6k_lane do, eight at a time.
inline void update(float* f, __m256i t, __m256i u, float d_d8, float dmin_d8) {
  const __m256 a = _mm256_mul_ps(_mm256_set1_ps(d_d8), _mm256_cvtepi32_ps(t));
  const __m256 b = _mm256_mul_ps(_mm256_set1_ps(dmin_d8), _mm256_cvtepi32_ps(u));
  _mm256_storeu_ps(f, _mm256_add_ps(_mm256_loadu_ps(f), _mm256_sub_ps(a, b)));
}
inline void update(float* f, __m256i t, float d_d8) {
  _mm256_storeu_ps(f, _mm256_add_ps(_mm256_loadu_ps(f), _mm256_mul_ps(_mm256_set1_ps(d_d8), _mm256_cvtepi32_ps(t))));
}

inline __m256i bsum8(const std::int16_t* p) {
  return _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Chunk q of 32 weights (elements 32q ..) goes to lanes lo when q is even, hi when odd.
void q4k_avx2(const std::uint8_t* b, const std::int8_t* xq, const std::int16_t* bsum, float d8, float* f) {
  std::uint8_t sm[16];
  q4k_scales(b + 4, sm);
  const __m256i low4 = _mm256_set1_epi8(15);
  Lanes t{_mm256_setzero_si256(), _mm256_setzero_si256()};
  for (int p = 0; p < 4; ++p) {
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16 + 32 * p));
    t.lo = _mm256_add_epi32(t.lo, dot32(_mm256_and_si256(qs, low4), xq + 64 * p, _mm256_set1_epi16(sm[2 * p])));
    t.hi = _mm256_add_epi32(t.hi, dot32(_mm256_and_si256(_mm256_srli_epi16(qs, 4), low4), xq + 64 * p + 32,
                                        _mm256_set1_epi16(sm[2 * p + 1])));
  }
  // u_j = min(j / 2) · bsum_j.
  const __m256i mins = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sm + 8)));
  const __m256i pairs_lo = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), pairs_hi = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  const __m256i u_lo = _mm256_mullo_epi32(_mm256_permutevar8x32_epi32(mins, pairs_lo), bsum8(bsum));
  const __m256i u_hi = _mm256_mullo_epi32(_mm256_permutevar8x32_epi32(mins, pairs_hi), bsum8(bsum + 8));
  const float d_d8 = half_at(b) * d8, dmin_d8 = half_at(b + 2) * d8;
  update(f, t.lo, u_lo, d_d8, dmin_d8);
  update(f + 8, t.hi, u_hi, d_d8, dmin_d8);
}

void q6k_avx2(const std::uint8_t* b, const std::int8_t* xq, const std::int16_t* bsum, float d8, float* f) {
  const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
  const __m256i low4 = _mm256_set1_epi8(15), bits45 = _mm256_set1_epi8(0x30);
  Lanes t{_mm256_setzero_si256(), _mm256_setzero_si256()};
  for (int h = 0; h < 2; ++h) {
    const __m256i qla = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h));
    const __m256i qlb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h));
    // Weights 32i .. 32i + 31 of the half (16-bit shifts carry bits across bytes only outside the
    // masks).
    const __m256i g[4] = {
        _mm256_or_si256(_mm256_and_si256(qla, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45)),
        _mm256_or_si256(_mm256_and_si256(qlb, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qla, 4), low4), _mm256_and_si256(qh, bits45)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qlb, 4), low4), _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45))};
    for (int i = 0; i < 4; ++i) {
      const int q = 4 * h + i;  // elements 32q ..: scale groups 2q, 2q + 1
      const __m256i scales = _mm256_setr_m128i(_mm_set1_epi16(sc[2 * q]), _mm_set1_epi16(sc[2 * q + 1]));
      __m256i& lanes = q % 2 ? t.hi : t.lo;
      lanes = _mm256_add_epi32(lanes, dot32(g[i], xq + 32 * q, scales));
    }
  }
  // − 32 · scale(j) · bsum_j.
  const __m256i sc_lo = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc)));
  const __m256i sc_hi = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc + 8)));
  t.lo = _mm256_sub_epi32(t.lo, _mm256_slli_epi32(_mm256_mullo_epi32(sc_lo, bsum8(bsum)), 5));
  t.hi = _mm256_sub_epi32(t.hi, _mm256_slli_epi32(_mm256_mullo_epi32(sc_hi, bsum8(bsum + 8)), 5));
  const float d_d8 = half_at(b + 208) * d8;
  update(f, t.lo, d_d8);
  update(f + 8, t.hi, d_d8);
}

template <bool kQ4>
void rows_avx2(const Q8KRows& x, const std::uint8_t* w, float* y, int M, int N, int K, int n_begin, int n_end) {
  constexpr std::size_t kBlock = kQ4 ? 144 : 210;
  const std::size_t row = std::size_t(K / kQK) * kBlock;
  for (int n = n_begin; n < n_end; ++n)
    for (int m = 0; m < M; ++m) {
      alignas(32) float f[16] = {};
      for (int sb = 0; sb < K / kQK; ++sb) {
        const std::uint8_t* b = w + std::size_t(n) * row + sb * kBlock;
        const std::size_t xb = std::size_t(m) * (K / kQK) + sb;
        (kQ4 ? q4k_avx2 : q6k_avx2)(b, x.q + xb * kQK, x.bsum + xb * 16, x.d[xb], f);
      }
      y[std::size_t(m) * N + n] = reduce_lanes(f);
    }
}

}  // namespace

void ggml_rows_avx2(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                    int n_begin, int n_end) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(w);
  if (GgmlType(type) == GgmlType::kQ4_K) rows_avx2<true>(x, bytes, y, M, N, K, n_begin, n_end);
  else rows_avx2<false>(x, bytes, y, M, N, K, n_begin, n_end);
}

#pragma GCC pop_options
#endif

}  // namespace kernels

namespace {

kernels::GgmlRowsFn kernel() {
#if defined(__x86_64__)
  static const bool vnni = __builtin_cpu_supports("avx512vnni");
  switch (active_isa()) {
    case Isa::kAvx512:
      if (vnni) return kernels::ggml_rows_avx512;
      [[fallthrough]];
    case Isa::kAvx2: return kernels::ggml_rows_avx2;
    case Isa::kPortable: break;
  }
#endif
  return kernels::ggml_rows_portable;
}

// x quantized to Q8_K in per-thread storage (the caller's: the pool's workers only read it).
struct Q8KBuffer {
  std::vector<std::int8_t> q;
  std::vector<float> d;
  std::vector<std::int16_t> bsum;
  Q8KRows quantize(const float* x, int M, int K) {
    const std::size_t n = std::size_t(M) * K;
    if (q.size() < n) q.resize(n), d.resize(n / kQK), bsum.resize(n / 16);
    quantize_q8k(x, M, K, q.data(), d.data(), bsum.data());
    return {q.data(), d.data(), bsum.data()};
  }
};
thread_local Q8KBuffer q8k_buffer;

}  // namespace

bool matmul_reads_ggml(std::uint32_t type) {
  return GgmlType(type) == GgmlType::kQ4_K || GgmlType(type) == GgmlType::kQ6_K;
}

std::size_t ggml_matmul_row_bytes(std::uint32_t type, int K) {
  return std::size_t(K / kQK) * (GgmlType(type) == GgmlType::kQ4_K ? 144 : 210);
}

void matmul_ggml_rows(const float* x, const PackedMatrix& w, float* y, int M, int n_begin, int n_end) {
  const Q8KRows xq = q8k_buffer.quantize(x, M, w.K);
  kernel()(w.ggml_type, xq, w.ggml, y, M, w.N, w.K, n_begin, n_end);
}

void matmul_ggml(const float* x, const PackedMatrix& w, float* y, int M, ThreadPool* pool) {
  const kernels::GgmlRowsFn run = kernel();
  const int N = w.N;
  const Q8KRows xq = q8k_buffer.quantize(x, M, w.K);
  // Tasks of whole tiles of four rows, about 8 per thread and at most 64 rows, claimed
  // dynamically (as matmul's panels: a descheduled thread leaves little behind).
  const int threads = pool ? pool->num_threads() : 1;
  const int per_task = std::clamp(N / (8 * threads) / 4 * 4, 4, 64);
  const int tasks = (N + per_task - 1) / per_task;
  constexpr long kMinParallelMacs = 1L << 16;
  if (pool == nullptr || tasks == 1 || long(M) * N * w.K < kMinParallelMacs) {
    run(w.ggml_type, xq, w.ggml, y, M, N, w.K, 0, N);
    return;
  }
  pool->parallel_for(tasks, [&](int t, int) {
    run(w.ggml_type, xq, w.ggml, y, M, N, w.K, t * per_task, std::min(N, (t + 1) * per_task));
  });
}

void matmul_ggml_portable(const float* x, const PackedMatrix& w, float* y, int M) {
  const Q8KRows xq = q8k_buffer.quantize(x, M, w.K);
  kernels::ggml_rows_portable(w.ggml_type, xq, w.ggml, y, M, w.N, w.K, 0, w.N);
}

}  // namespace ladle::model
