// The AVX-512 kernel on a GGUF file's own Q4_K / Q6_K blocks (model/matmul_ggml.h): vpmaddubsw
// multiplies the unsigned 4- or 6-bit weights by the Q8_K activations 64 at a time and VNNI's
// vpdpwssd adds the pairs times the scales into int32 lanes, exact, and each super-block is then combined in the shared scalar order (q4k_block, q6k_block).
// Chosen at run time (model/isa.h) when the CPU also has AVX512-VNNI.
#include <algorithm>
#include <cstring>
#include <vector>

#include "model/gguf_types.h"
#include "model/half.h"
#include "model/matmul_ggml.h"

#if defined(__x86_64__)
#include <immintrin.h>

// GCC 12's avx512fintrin.h trips its own -Wmaybe-uninitialized (see model/matmul_avx512.cc), and
// here -Wuninitialized too (its _mm512_undefined_* inside the widening intrinsics).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define LADLE_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

namespace ladle::model::kernels {

namespace {

constexpr int kQK = 256;  // weights per super-block

// A half widened by F16C (exact, the same value as half_to_float).
LADLE_AVX512_VNNI inline float half_at(const std::uint8_t* p) {
  std::uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

// One super-block of one row of W, ready for the dot products: w[c] the unsigned weights
// 64c .. 64c + 63 in order (as bytes), sv[c] the scale of each of the 16 int32 lanes (4 weights
// each) there; for Q4_K `mins` the min of each group of 16 (the Q8_K sums' groups), for
// Q6_K the scale of each group (the −32 · Σ q8 correction).
struct Prepared {
  __m512i w[4], sv[4], groups;  // sv: each lane's scale in both of its 16-bit halves
  float d, dmin;
};

// Word k (of 32) of kScaleIndex[per == 8][c]: the scale of 32-bit lane k / 2 of chunk c among 16
// words, 2c + k / 16 (Q4_K: sub-blocks of 32) or 4c + k / 8 (Q6_K: groups of 16).
struct ScaleIndex {
  alignas(64) std::uint16_t at[2][4][32];
  constexpr ScaleIndex() : at{} {
    for (int c = 0; c < 4; ++c)
      for (int k = 0; k < 32; ++k) {
        at[0][c][k] = std::uint16_t(4 * c + k / 8);
        at[1][c][k] = std::uint16_t(2 * c + k / 16);
      }
  }
};
constexpr ScaleIndex kScaleIndex;
LADLE_AVX512_VNNI inline __m512i lane_index(int c, int per) { return _mm512_load_si512(kScaleIndex.at[per == 8][c]); }

LADLE_AVX512_VNNI inline void prepare_q4k(const std::uint8_t* b, Prepared& p) {
  // The eight 6-bit scales and mins (as get_scale_min_k4), unpacked with ggml's 32-bit masks.
  std::uint32_t u[4];
  std::memcpy(u, b + 4, 12);
  constexpr std::uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
  u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);
  const std::uint32_t mins_low = u[1] & kLow6;
  u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);
  u[2] = mins_low;
  u[0] &= kLow6;
  const __m128i sm8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
  const __m512i sm = _mm512_cvtepu8_epi32(sm8), sm16 = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(sm8));
  for (int c = 0; c < 4; ++c) p.sv[c] = _mm512_permutexvar_epi16(lane_index(c, 8), sm16);
  // Group g of 16 is in sub-block g / 2, whose min is lane 8 + g / 2.
  const __m512i g = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  p.groups = _mm512_permutexvar_epi32(_mm512_add_epi32(_mm512_set1_epi32(8), _mm512_srli_epi32(g, 1)), sm);
  // qs: bytes 32p .. 32p + 31 hold sub-block 2p (low nibbles) and 2p + 1 (high): weights 64p ..
  // 64p + 63 are the low nibbles of those bytes, then their high nibbles.
  const __m512i low4 = _mm512_set1_epi8(15);
  for (int z = 0; z < 2; ++z) {
    const __m512i qs = _mm512_loadu_si512(b + 16 + 64 * z);
    const __m512i lo = _mm512_and_si512(qs, low4), hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), low4);
    p.w[2 * z] = _mm512_shuffle_i64x2(lo, hi, 0x44);
    p.w[2 * z + 1] = _mm512_shuffle_i64x2(lo, hi, 0xEE);
  }
  p.d = half_at(b);
  p.dmin = half_at(b + 2);
}

LADLE_AVX512_VNNI inline void prepare_q6k(const std::uint8_t* b, Prepared& p) {
  const __m512i low4 = _mm512_set1_epi8(15), bits45 = _mm512_set1_epi8(0x30);
  // In 16-bit lanes: the low 256 bits shifted by the first count, the high ones by the second.
  const __m512i up = _mm512_setr_epi64(0x0004000400040004, 0x0004000400040004, 0x0004000400040004,
                                       0x0004000400040004, 0x0002000200020002, 0x0002000200020002,
                                       0x0002000200020002, 0x0002000200020002);
  const __m512i down = _mm512_setr_epi64(0, 0, 0, 0, 0x0002000200020002, 0x0002000200020002, 0x0002000200020002,
                                         0x0002000200020002);
  for (int h = 0; h < 2; ++h) {
    // Weight l + 32g of half h (l < 32): g = 0: ql[l] & 15 | (qh[l] & 3) << 4; g = 1: ql[l + 32]
    // & 15 | (qh[l] >> 2 & 3) << 4; g = 2: ql[l] >> 4 | (qh[l] >> 4 & 3) << 4; g = 3: ql[l + 32]
    // >> 4 | (qh[l] >> 6) << 4. A 16-bit shift carries bits across bytes only outside the masks.
    const __m512i ql = _mm512_loadu_si512(b + 64 * h);
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h)));
    p.w[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, up), bits45));
    p.w[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                     _mm512_and_si512(_mm512_srlv_epi16(qh, down), bits45));
  }
  const __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192));
  p.groups = _mm512_cvtepi8_epi32(sc8);
  const __m512i sc16 = _mm512_zextsi256_si512(_mm256_cvtepi8_epi16(sc8));
  for (int c = 0; c < 4; ++c) p.sv[c] = _mm512_permutexvar_epi16(lane_index(c, 4), sc16);
  p.d = half_at(b + 208);
}

// Σ_c scale · (w[c] · xq[64c ..]) as 16 int32 lanes: pmaddubsw's pairs (below 2 · 63 · 128: no
// saturation) times the scale, summed into the lanes by VNNI's vpdpwssd.
LADLE_AVX512_VNNI inline __m512i scaled_dots(const Prepared& p, const std::int8_t* xq) {
  __m512i t = _mm512_setzero_si512();
  for (int c = 0; c < 4; ++c)
    t = _mm512_dpwssd_epi32(t, _mm512_maddubs_epi16(p.w[c], _mm512_loadu_si512(xq + 64 * c)), p.sv[c]);
  return t;
}

// Rows of W per tile: their super-blocks are prepared once for every row of x.
// NOTE(ggml): one row, not two or four: ggml_matmul_bench --ms 1,8 --native-only, loaded, two
// rounds, passes per CPU-second at M = 1: one row 15.6, two rows 7.3 / 9.9, four 7.8 / 9.1 (at
// M = 8 within noise: 4.8-4.9 / 4.3-4.8 / 4.0-4.1). Two prepared super-blocks (18 zmm each) spill.
constexpr int kNR = 1;
// Rows ahead whose same blocks a tile prefetches.
// NOTE(ggml): without it the one-row step ran at half the speed: ggml_matmul_bench --ms 1
// --native-only, loaded, two alternated rounds (two-row tiles): no prefetch 1.9 / 2.1 passes/s,
// 2 rows ahead 6.2 / 5.5, 8 rows 5.9 / 5.6, 16 rows 5.8 / 5.4, 32 rows 5.0 / 4.3 (the hardware
// prefetcher alone does not keep up with these streams). With one-row tiles, per CPU-second:
// 1 row ahead 10.3 / 14.6, 2 rows 13.8 / 14.5, 4 rows 13.5 / 11.0.
constexpr int kAhead = 2;
// At M = 1 (rows_m1), bytes ahead in W's one stream.
// NOTE(ggml): ggml_matmul_bench --ms 1 --native-only, quiet, W in 2 MiB pages (weights.cc), two
// rounds each, passes/s: no prefetch 36.3 / 35.7, 1 KiB ahead 35.6 / 33.5, 2 KiB 36.3 / 37.1,
// 4 KiB 37.9 / 38.5 (again 29.5 / 36.1, 33.5 / 32.8: the machine noisier), 6 KiB 32.4 / 35.2,
// 8 KiB 32.9 / 34.3. On 4 KiB pages (the file's mapping) 2 KiB gave 27.7 / 28.3, none 24.5 / 27.1.
constexpr std::size_t kAheadBytes = 4096;

// The lanes added pairwise: j + 8, then + 4, + 2, + 1 (reduce_lanes).
LADLE_AVX512_VNNI inline float reduce16(__m512 v) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
}

// y[0..M) × [0..NR) (row stride N) = the M rows of x · NR rows of W (row stride `row` bytes):
// each super-block of W is prepared once for all M rows; `lanes` holds the M · NR · 16 lanes
// (floats, not a vector of __m512: GCC drops the alignment of a template argument).
template <bool kQ4, int NR>
LADLE_AVX512_VNNI void tile(const Q8KRows& x, const std::uint8_t* w, std::size_t row, float* y, int M, int N, int K,
                            std::vector<float>& lanes) {
  constexpr std::size_t kBlock = kQ4 ? 144 : 210;
  const int blocks = K / kQK;
  lanes.assign(std::size_t(M) * NR * 16, 0.0f);
  for (int sb = 0; sb < blocks; ++sb) {
    Prepared p[NR];
    for (int r = 0; r < NR; ++r) {
      const std::uint8_t* at = w + r * row + sb * kBlock;
      // The next tile's same blocks (its rows follow these): fetched one tile ahead.
      if (kAhead > 0)
        for (std::size_t off = 0; off < kBlock + 63; off += 64)
          _mm_prefetch(reinterpret_cast<const char*>(at + kAhead * row + off), _MM_HINT_T0);
      if constexpr (kQ4) prepare_q4k(at, p[r]);
      else prepare_q6k(at, p[r]);
    }
    for (int m = 0; m < M; ++m) {
      const std::size_t xb = std::size_t(m) * blocks + sb;
      const std::int8_t* xq = x.q + xb * kQK;
      const __m512i b16 = _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsum + xb * 16)));
      const float d8 = x.d[xb];
      for (int r = 0; r < NR; ++r) {
        float* lane = lanes.data() + (std::size_t(m) * NR + r) * 16;
        __m512 f = _mm512_loadu_ps(lane);
        const __m512i t = scaled_dots(p[r], xq);
        const __m512i g = _mm512_mullo_epi32(p[r].groups, b16);
        if constexpr (kQ4) {  // q4k_lane, lane by lane
          const __m512 a = _mm512_mul_ps(_mm512_set1_ps(p[r].d * d8), _mm512_cvtepi32_ps(t));
          const __m512 b = _mm512_mul_ps(_mm512_set1_ps(p[r].dmin * d8), _mm512_cvtepi32_ps(g));
          f = _mm512_add_ps(f, _mm512_sub_ps(a, b));
        } else {  // q6k_lane
          const __m512i tc = _mm512_sub_epi32(t, _mm512_slli_epi32(g, 5));
          f = _mm512_add_ps(f, _mm512_mul_ps(_mm512_set1_ps(p[r].d * d8), _mm512_cvtepi32_ps(tc)));
        }
        _mm512_storeu_ps(lane, f);
      }
    }
  }
  for (int m = 0; m < M; ++m)
    for (int r = 0; r < NR; ++r)
      y[std::size_t(m) * N + r] = reduce16(_mm512_loadu_ps(lanes.data() + (std::size_t(m) * NR + r) * 16));
}

// Rows [n_begin, n_end) of W times the one row of x (M = 1): the lanes stay in a register, and
// W is one contiguous stream, prefetched kAheadBytes ahead. The same operations as tile<kQ4, 1>.
template <bool kQ4>
LADLE_AVX512_VNNI void rows_m1(const Q8KRows& x, const std::uint8_t* w, float* y, int K, int n_begin, int n_end) {
  constexpr std::size_t kBlock = kQ4 ? 144 : 210;
  const int blocks = K / kQK;
  const std::size_t row = std::size_t(blocks) * kBlock;
  const std::uint8_t* const end = w + std::size_t(n_end) * row;
  for (int n = n_begin; n < n_end; ++n) {
    const std::uint8_t* at = w + std::size_t(n) * row;
    __m512 f = _mm512_setzero_ps();
    for (int sb = 0; sb < blocks; ++sb, at += kBlock) {
      // The stream's lines kAheadBytes on (the lines of this block's 144 / 210 bytes, once each).
      const std::uint8_t* pf = at + kAheadBytes;
      if (pf < end) {
        const auto first = reinterpret_cast<std::uintptr_t>(pf) & ~std::uintptr_t(63);
        for (std::uintptr_t line = first; line < reinterpret_cast<std::uintptr_t>(pf + kBlock); line += 64)
          _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T0);
      }
      Prepared p;
      if constexpr (kQ4) prepare_q4k(at, p);
      else prepare_q6k(at, p);
      const std::int8_t* xq = x.q + std::size_t(sb) * kQK;
      const __m512i b16 = _mm512_cvtepi16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsum + sb * 16)));
      const float d8 = x.d[sb];
      const __m512i t = scaled_dots(p, xq);
      const __m512i g = _mm512_mullo_epi32(p.groups, b16);
      if constexpr (kQ4) {  // q4k_lane, lane by lane
        const __m512 a = _mm512_mul_ps(_mm512_set1_ps(p.d * d8), _mm512_cvtepi32_ps(t));
        const __m512 b = _mm512_mul_ps(_mm512_set1_ps(p.dmin * d8), _mm512_cvtepi32_ps(g));
        f = _mm512_add_ps(f, _mm512_sub_ps(a, b));
      } else {  // q6k_lane
        const __m512i tc = _mm512_sub_epi32(t, _mm512_slli_epi32(g, 5));
        f = _mm512_add_ps(f, _mm512_mul_ps(_mm512_set1_ps(p.d * d8), _mm512_cvtepi32_ps(tc)));
      }
    }
    y[n] = reduce16(f);
  }
}

template <bool kQ4>
LADLE_AVX512_VNNI void rows(const Q8KRows& x, const std::uint8_t* w, float* y, int M, int N, int K, int n_begin,
                            int n_end) {
  if (M == 1) return rows_m1<kQ4>(x, w, y, K, n_begin, n_end);
  const std::size_t row = std::size_t(K / kQK) * (kQ4 ? 144 : 210);
  static thread_local std::vector<float> acc;
  int n = n_begin;
  for (; n + kNR <= n_end; n += kNR) tile<kQ4, kNR>(x, w + n * row, row, y + n, M, N, K, acc);
  for (; n < n_end; ++n) tile<kQ4, 1>(x, w + n * row, row, y + n, M, N, K, acc);
}

}  // namespace

void ggml_rows_avx512(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                      int n_begin, int n_end) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(w);
  if (GgmlType(type) == GgmlType::kQ4_K) rows<true>(x, bytes, y, M, N, K, n_begin, n_end);
  else rows<false>(x, bytes, y, M, N, K, n_begin, n_end);
}

}  // namespace ladle::model::kernels

#endif  // __x86_64__
