// matmul_ggml: the portable and AVX2 kernels on a GGUF file's Q4_K / Q6_K blocks, the dispatch by
// ISA level and the split over the pool by rows of W; the AVX-512 kernel is
// model/matmul_ggml_avx512.cc. Every kernel computes the sixteen-lane chains of the NOTE(ggml) in
// model/matmul_ggml.h, so all give the same bits for any M.
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

// The sixteen lanes added pairwise: j + 8, then + 4, + 2, + 1.
float reduce16(const float (&a)[16]) {
  float s8[8], s4[4];
  for (int j = 0; j < 8; ++j) s8[j] = a[j] + a[j + 8];
  for (int j = 0; j < 4; ++j) s4[j] = s8[j] + s8[j + 4];
  const float s0 = s4[0] + s4[2], s1 = s4[1] + s4[3];
  return s0 + s1;
}

}  // namespace

namespace kernels {

// Each row of W widened by dequantize() (the reference values), then per output the sixteen
// std::fma chains and reduce16.
void ggml_rows_portable(std::uint32_t type, const float* x, const std::byte* w, float* y, int M, int N, int K,
                        int n_begin, int n_end) {
  const std::size_t row = ggml_matmul_row_bytes(type, K);
  std::vector<float> wide(static_cast<std::size_t>(K));
  for (int n = n_begin; n < n_end; ++n) {
    dequantize(type, w + std::size_t(n) * row, wide.data(), wide.size());
    for (int m = 0; m < M; ++m) {
      const float* xm = x + std::size_t(m) * K;
      float acc[16] = {};
      for (int k = 0; k < K; ++k) acc[k % 16] = std::fma(xm[k], wide[std::size_t(k)], acc[k % 16]);
      y[std::size_t(m) * N + n] = reduce16(acc);
    }
  }
}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace {

float half_at(const std::uint8_t* p) {
  Half h;
  std::memcpy(&h, p, sizeof h);
  return half_to_float(h);
}

// Sixteen weights as two vectors of eight: lanes 0..7 and 8..15.
struct V16 {
  __m256 lo, hi;
};

inline __m256i bytes8(const std::uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// As the AVX-512 kernel's Q4K (model/matmul_ggml_avx512.cc), eight weights per vector.
struct Q4K {
  static constexpr std::size_t kBytes = 144;
  float d1[8], m1[8];
  const std::uint8_t* qs;
  void load(const std::uint8_t* b) {
    const float d = half_at(b), dmin = half_at(b + 2);
    const std::uint8_t* sc = b + 4;
    for (int s = 0; s < 8; ++s) {
      const int scale = s < 4 ? sc[s] & 63 : (sc[s + 4] & 0x0F) | ((sc[s - 4] >> 6) << 4);
      const int min = s < 4 ? sc[s + 4] & 63 : (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
      d1[s] = d * float(scale);
      m1[s] = dmin * float(min);
    }
    qs = b + 16;
  }
  template <int c>
  V16 widen() const {
    constexpr int p = c / 4, high = (c / 2) % 2, sub = 2 * p + high;
    const std::uint8_t* at = qs + 32 * p + 16 * (c % 2);
    const __m256 d = _mm256_set1_ps(d1[sub]), m = _mm256_set1_ps(m1[sub]);
    auto one = [&](const std::uint8_t* b) {
      __m256i q = bytes8(b);
      q = high ? _mm256_srli_epi32(q, 4) : _mm256_and_si256(q, _mm256_set1_epi32(15));
      return _mm256_fmsub_ps(d, _mm256_cvtepi32_ps(q), m);
    };
    return {one(at), one(at + 8)};
  }
};

// As the AVX-512 kernel's Q6K.
struct Q6K {
  static constexpr std::size_t kBytes = 210;
  float ds[16];
  const std::uint8_t *ql, *qh;
  void load(const std::uint8_t* b) {
    const float d = half_at(b + 208);
    for (int i = 0; i < 16; ++i) ds[i] = d * float(std::int8_t(b[192 + i]));
    ql = b;
    qh = b + 128;
  }
  template <int c>
  V16 widen() const {
    constexpr int h = c / 8, g = (c % 8) / 2, l0 = 16 * (c % 2);
    const __m256 s = _mm256_set1_ps(ds[8 * h + l0 / 16 + 2 * g]);
    auto one = [&](int off) {
      __m256i lo = bytes8(ql + 64 * h + 32 * (g % 2) + l0 + off);
      lo = g >= 2 ? _mm256_srli_epi32(lo, 4) : _mm256_and_si256(lo, _mm256_set1_epi32(15));
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi32(bytes8(qh + 32 * h + l0 + off), 2 * g), _mm256_set1_epi32(3));
      const __m256i q = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
      return _mm256_mul_ps(s, _mm256_cvtepi32_ps(q));
    };
    return {one(0), one(8)};
  }
};

inline float reduce16(__m256 lo, __m256 hi) {
  const __m256 a = _mm256_add_ps(lo, hi);
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
}

template <class B, int NR, int c>
inline void step(const B (&blk)[NR], const float* x, __m256 (&acc)[NR][2]) {
  const __m256 x0 = _mm256_loadu_ps(x + 16 * c), x1 = _mm256_loadu_ps(x + 16 * c + 8);
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) {
    const V16 w = blk[r].template widen<c>();
    acc[r][0] = _mm256_fmadd_ps(x0, w.lo, acc[r][0]);
    acc[r][1] = _mm256_fmadd_ps(x1, w.hi, acc[r][1]);
  }
}

template <class B, int NR, int... c>
inline void steps(const B (&blk)[NR], const float* x, __m256 (&acc)[NR][2], std::integer_sequence<int, c...>) {
  (step<B, NR, c>(blk, x, acc), ...);
}

// y[0..NR) = one row of x · NR rows of W (row stride `row` bytes).
template <class B, int NR>
void tile(const float* x, const std::uint8_t* w, std::size_t row, float* y, int K) {
  __m256 acc[NR][2];
  for (int r = 0; r < NR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int sb = 0; sb < K / kQK; ++sb) {
    B blk[NR];
    for (int r = 0; r < NR; ++r) blk[r].load(w + r * row + sb * B::kBytes);
    steps<B, NR>(blk, x + sb * kQK, acc, std::make_integer_sequence<int, kQK / 16>{});
  }
  for (int r = 0; r < NR; ++r) y[r] = reduce16(acc[r][0], acc[r][1]);
}

// One row of x at a time, two rows of W per tile (eight chains in flight). A fallback for CPUs
// without AVX-512: with many rows of x it widens W once per row of x.
template <class B>
void rows_avx2(const float* x, const std::uint8_t* w, float* y, int M, int N, int K, int n_begin, int n_end) {
  const std::size_t row = std::size_t(K / kQK) * B::kBytes;
  for (int m = 0; m < M; ++m) {
    const float* xm = x + std::size_t(m) * K;
    float* ym = y + std::size_t(m) * N;
    int n = n_begin;
    for (; n + 2 <= n_end; n += 2) tile<B, 2>(xm, w + n * row, row, ym + n, K);
    for (; n < n_end; ++n) tile<B, 1>(xm, w + n * row, row, ym + n, K);
  }
}

}  // namespace

void ggml_rows_avx2(std::uint32_t type, const float* x, const std::byte* w, float* y, int M, int N, int K,
                    int n_begin, int n_end) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(w);
  if (GgmlType(type) == GgmlType::kQ4_K) rows_avx2<Q4K>(x, bytes, y, M, N, K, n_begin, n_end);
  else rows_avx2<Q6K>(x, bytes, y, M, N, K, n_begin, n_end);
}

#pragma GCC pop_options
#endif

}  // namespace kernels

namespace {

kernels::GgmlRowsFn kernel() {
#if defined(__x86_64__)
  switch (active_isa()) {
    case Isa::kAvx512: return kernels::ggml_rows_avx512;
    case Isa::kAvx2: return kernels::ggml_rows_avx2;
    case Isa::kPortable: break;
  }
#endif
  return kernels::ggml_rows_portable;
}

}  // namespace

bool matmul_reads_ggml(std::uint32_t type) {
  return GgmlType(type) == GgmlType::kQ4_K || GgmlType(type) == GgmlType::kQ6_K;
}

std::size_t ggml_matmul_row_bytes(std::uint32_t type, int K) {
  return std::size_t(K / kQK) * (GgmlType(type) == GgmlType::kQ4_K ? 144 : 210);
}

void matmul_ggml_rows(const float* x, const PackedMatrix& w, float* y, int M, int n_begin, int n_end) {
  kernel()(w.ggml_type, x, w.ggml, y, M, w.N, w.K, n_begin, n_end);
}

void matmul_ggml(const float* x, const PackedMatrix& w, float* y, int M, ThreadPool* pool) {
  const kernels::GgmlRowsFn run = kernel();
  const int N = w.N;
  // Tasks of whole tiles of four rows, about 8 per thread and at most 64 rows, claimed
  // dynamically (as matmul's panels: a descheduled thread leaves little behind).
  const int threads = pool ? pool->num_threads() : 1;
  const int per_task = std::clamp(N / (8 * threads) / 4 * 4, 4, 64);
  const int tasks = (N + per_task - 1) / per_task;
  constexpr long kMinParallelMacs = 1L << 16;
  if (pool == nullptr || tasks == 1 || long(M) * N * w.K < kMinParallelMacs) {
    run(w.ggml_type, x, w.ggml, y, M, N, w.K, 0, N);
    return;
  }
  pool->parallel_for(tasks, [&](int t, int) {
    run(w.ggml_type, x, w.ggml, y, M, N, w.K, t * per_task, std::min(N, (t + 1) * per_task));
  });
}

void matmul_ggml_portable(const float* x, const PackedMatrix& w, float* y, int M) {
  kernels::ggml_rows_portable(w.ggml_type, x, w.ggml, y, M, w.N, w.K, 0, w.N);
}

}  // namespace ladle::model
