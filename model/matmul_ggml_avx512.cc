// The AVX-512 kernel on a GGUF file's own Q4_K / Q6_K blocks (model/matmul_ggml.h): one zmm holds
// 16 consecutive weights of a row, widened exactly to dequantize()'s floats, and each output's
// sixteen lanes are the fma chains of the NOTE(ggml) there. Chosen at run time (model/isa.h).
#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "model/gguf_types.h"
#include "model/half.h"
#include "model/matmul_ggml.h"
#include "model/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

// GCC 12's avx512fintrin.h trips its own -Wmaybe-uninitialized (see model/matmul_avx512.cc), and
// here -Wuninitialized too (its _mm512_undefined_* inside the widening intrinsics).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace ladle::model::kernels {

namespace {

constexpr int kQK = 256;  // weights per super-block

float half_at(const std::uint8_t* p) {
  Half h;
  std::memcpy(&h, p, sizeof h);
  return half_to_float(h);
}

LADLE_AVX512 inline __m512i bytes16(const std::uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// One super-block of one row of Q4_K, ready to widen: per sub-block s of 32, the sixteen values
// a nibble can stand for, tab[s][q] = d1 · q − m1 with one rounding (d1 = d · scale, m1 = dmin ·
// min: exact products), so a weight is one permute of its nibble; the same floats as dequantize's
// q4_k.
// NOTE(ggml): a table per sub-block, not d1 · q − m1 per weight. Widening each weight with
// and/shift, cvtdq2ps and fmsub, with the scales decoded in scalar code (ggml_dequantize.cc's
// way), ran the 1B shape's step at 0.23x the q8 panels' speed at M = 1 (ggml_matmul_bench,
// loaded); the scales decoded with ggml's 32-bit mask trick and one vpermps per 16 weights cut
// the instructions per weight roughly in half (numbers in BENCHMARKS.md).
struct Q4K {
  static constexpr std::size_t kBytes = 144;
  __m512 tab[8];
  const std::uint8_t* qs;
  LADLE_AVX512 inline void load(const std::uint8_t* b) {
    // The eight 6-bit scales to bytes 0..7 and the mins to bytes 8..15 (get_scale_min_k4 for all
    // sub-blocks at once, as ggml's kernels unpack them).
    std::uint32_t u[4];
    std::memcpy(u, b + 4, 12);
    constexpr std::uint32_t kLow6 = 0x3f3f3f3f, kLow4 = 0x0f0f0f0f, kLow2 = 0x03030303;
    u[3] = ((u[2] >> 4) & kLow4) | (((u[1] >> 6) & kLow2) << 4);
    const std::uint32_t mins_low = u[1] & kLow6;
    u[1] = (u[2] & kLow4) | (((u[0] >> 6) & kLow2) << 4);
    u[2] = mins_low;
    u[0] &= kLow6;
    const __m512i sm = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u)));
    const float d = half_at(b), dmin = half_at(b + 2);
    const __m512 scale = _mm512_mask_blend_ps(__mmask16(0xFF00), _mm512_set1_ps(d), _mm512_set1_ps(dmin));
    alignas(64) float dm[16];  // d1[0..8) then m1[0..8)
    _mm512_store_ps(dm, _mm512_mul_ps(_mm512_cvtepi32_ps(sm), scale));
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) tab[s] = _mm512_fmsub_ps(iota, _mm512_set1_ps(dm[s]), _mm512_set1_ps(dm[s + 8]));
    qs = b + 16;
  }
  // Weights 16c .. 16c + 15 of the super-block: nibbles of qs[32p + 16(c & 1) ..], low for
  // sub-block 2p, high for 2p + 1 (p = c / 4); vpermps reads only an index's low four bits.
  template <int c>
  LADLE_AVX512 inline __m512 widen() const {
    constexpr int p = c / 4, high = (c / 2) % 2, sub = 2 * p + high;
    __m512i q = bytes16(qs + 32 * p + 16 * (c % 2));
    if constexpr (high) q = _mm512_srli_epi32(q, 4);
    return _mm512_permutexvar_ps(q, tab[sub]);
  }
};

// One super-block of one row of Q6_K: the 6-bit values minus 32 as int8 (ab: per half of 128, A
// holds the weights 0..63 of the half and B 64..127, 16 per 128-bit lane), and ds = d · scale per
// 16 weights (exact); a weight is then (q − 32) · ds rounded once, as dequantize's q6_k.
struct Q6K {
  static constexpr std::size_t kBytes = 210;
  __m512i ab[4];
  alignas(64) float ds[16];
  LADLE_AVX512 inline void load(const std::uint8_t* b) {
    const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30), bias = _mm512_set1_epi8(32);
    // In 16-bit lanes: the low 256 bits shifted by the first count, the high ones by the second.
    const __m512i up = _mm512_setr_epi64(0x0004000400040004, 0x0004000400040004, 0x0004000400040004,
                                         0x0004000400040004, 0x0002000200020002, 0x0002000200020002,
                                         0x0002000200020002, 0x0002000200020002);
    const __m512i down = _mm512_setr_epi64(0, 0, 0, 0, 0x0002000200020002, 0x0002000200020002,
                                           0x0002000200020002, 0x0002000200020002);
    for (int h = 0; h < 2; ++h) {
      // ql[l] (l < 32) low, ql[l + 32] high; qh[l] in both halves. Element l + 32g of the half:
      // g = 0: ql[l] & 15 | (qh[l] & 3) << 4; g = 1: ql[l + 32] & 15 | (qh[l] >> 2 & 3) << 4;
      // g = 2: ql[l] >> 4 | (qh[l] >> 4 & 3) << 4; g = 3: ql[l + 32] >> 4 | (qh[l] >> 6) << 4.
      // A shift in 16-bit lanes carries bits across bytes only outside the masks.
      const __m512i ql = _mm512_loadu_si512(b + 64 * h);
      const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h)));
      const __m512i a = _mm512_or_si512(_mm512_and_si512(ql, low4), _mm512_and_si512(_mm512_sllv_epi16(qh, up), bits45));
      const __m512i c = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                        _mm512_and_si512(_mm512_srlv_epi16(qh, down), bits45));
      ab[2 * h] = _mm512_sub_epi8(a, bias);
      ab[2 * h + 1] = _mm512_sub_epi8(c, bias);
    }
    const __m512 scales = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192))));
    _mm512_store_ps(ds, _mm512_mul_ps(_mm512_set1_ps(half_at(b + 208)), scales));
  }
  // Weights 16c .. 16c + 15 (c = 8h + cc): lane cc % 4 of A (cc < 4) or B; their scale is ds[c].
  template <int c>
  LADLE_AVX512 inline __m512 widen() const {
    constexpr int h = c / 8, cc = c % 8;
    const __m512i src = ab[2 * h + cc / 4];
    const __m128i q8 = cc % 4 == 0 ? _mm512_castsi512_si128(src) : _mm512_extracti32x4_epi32(src, cc % 4);
    return _mm512_mul_ps(_mm512_set1_ps(ds[c]), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q8)));
  }
};

// The lanes of `v` added pairwise: j + 8, then + 4, + 2, + 1 (the NOTE's fixed order).
LADLE_AVX512 inline float reduce16(__m512 v) {
  const __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  const __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  const __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
  return _mm_cvtss_f32(_mm_add_ss(c, _mm_movehdup_ps(c)));
}

template <class B, int MR, int NR, int c>
LADLE_AVX512 inline void step(const B (&blk)[NR], const float* x, int K, __m512 (&acc)[MR][NR]) {
  __m512 w[NR];
#pragma GCC unroll 8
  for (int r = 0; r < NR; ++r) w[r] = blk[r].template widen<c>();
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m) {
    const __m512 xv = _mm512_loadu_ps(x + std::size_t(m) * K + 16 * c);
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) acc[m][r] = _mm512_fmadd_ps(xv, w[r], acc[m][r]);
  }
}

template <class B, int MR, int NR, int... c>
LADLE_AVX512 inline void steps(const B (&blk)[NR], const float* x, int K, __m512 (&acc)[MR][NR],
                               std::integer_sequence<int, c...>) {
  (step<B, MR, NR, c>(blk, x, K, acc), ...);
}

// y[0..MR) × [0..NR) (row stride ldy) = MR rows of x (row stride K) · NR rows of W (row stride
// `row` bytes), widening each super-block once for all MR rows.
template <class B, int MR, int NR>
LADLE_AVX512 void tile(const float* x, const std::uint8_t* w, std::size_t row, float* y, int ldy, int K) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) acc[m][r] = _mm512_setzero_ps();
  for (int sb = 0; sb < K / kQK; ++sb) {
    B blk[NR];
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) {
      const std::uint8_t* at = w + r * row + sb * B::kBytes;
      // The next tile's same blocks (its rows follow these): fetched one tile ahead.
#pragma GCC unroll 8
      for (std::size_t off = 0; off < B::kBytes + 63; off += 64) _mm_prefetch(reinterpret_cast<const char*>(at + NR * row + off), _MM_HINT_T0);
      blk[r].load(at);
    }
    steps<B, MR, NR>(blk, x + sb * kQK, K, acc, std::make_integer_sequence<int, kQK / 16>{});
  }
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) y[std::size_t(m) * ldy + r] = reduce16(acc[m][r]);
}

template <class B, int... c>
LADLE_AVX512 inline void store_widened(const B& blk, float* out, std::integer_sequence<int, c...>) {
  (_mm512_storeu_ps(out + 16 * c, blk.template widen<c>()), ...);
}

// Widens NR rows of W (K each) into `out` [NR × K] floats, the values tile() computes with.
template <class B, int NR>
LADLE_AVX512 void widen_rows(const std::uint8_t* w, std::size_t row, int K, float* out) {
  for (int r = 0; r < NR; ++r)
    for (int sb = 0; sb < K / kQK; ++sb) {
      B blk;
      blk.load(w + r * row + sb * B::kBytes);
      float* o = out + std::size_t(r) * K + sb * kQK;
      store_widened(blk, o, std::make_integer_sequence<int, kQK / 16>{});
    }
}

// y[0..MR) × [0..NR) from NR rows of already widened W (`wf`, row stride K): the same fma chains.
template <int MR, int NR>
LADLE_AVX512 void tile_wide(const float* x, const float* wf, float* y, int ldy, int K) {
  __m512 acc[MR][NR];
#pragma GCC unroll 8
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) acc[m][r] = _mm512_setzero_ps();
  for (int k = 0; k < K; k += 16) {
    __m512 w[NR];
#pragma GCC unroll 8
    for (int r = 0; r < NR; ++r) w[r] = _mm512_loadu_ps(wf + std::size_t(r) * K + k);
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) {
      const __m512 xv = _mm512_loadu_ps(x + std::size_t(m) * K + k);
#pragma GCC unroll 8
      for (int r = 0; r < NR; ++r) acc[m][r] = _mm512_fmadd_ps(xv, w[r], acc[m][r]);
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int r = 0; r < NR; ++r) y[std::size_t(m) * ldy + r] = reduce16(acc[m][r]);
}

// Rows of W per tile.
constexpr int kNR = 4;
// Up to this many rows of x, a tile widens W in registers for all of them (tile()); beyond, NR
// rows of W are widened once into a per-thread buffer and tile_wide() passes over it kMR rows of
// x at a time.
constexpr int kFusedRows = 3;
constexpr int kMR = 4;

template <class B, int NR>
LADLE_AVX512 void fused(const float* x, const std::uint8_t* w, std::size_t row, float* y, int M, int N, int K) {
  switch (M) {
    case 1: tile<B, 1, NR>(x, w, row, y, N, K); break;
    case 2: tile<B, 2, NR>(x, w, row, y, N, K); break;
    default: tile<B, 3, NR>(x, w, row, y, N, K); break;
  }
}
static_assert(kFusedRows == 3, "fused() covers 1..3 rows");

template <int NR>
LADLE_AVX512 void wide(const float* x, const float* wf, float* y, int M, int N, int K) {
  int m = 0;
  for (; m + kMR <= M; m += kMR) tile_wide<kMR, NR>(x + std::size_t(m) * K, wf, y + std::size_t(m) * N, N, K);
  const float* xm = x + std::size_t(m) * K;
  float* ym = y + std::size_t(m) * N;
  switch (M - m) {
    case 0: break;
    case 1: tile_wide<1, NR>(xm, wf, ym, N, K); break;
    case 2: tile_wide<2, NR>(xm, wf, ym, N, K); break;
    default: tile_wide<3, NR>(xm, wf, ym, N, K); break;
  }
}
static_assert(kMR == 4, "wide() covers 1..3 leftover rows");

template <class B>
LADLE_AVX512 void rows(const float* x, const std::uint8_t* w, float* y, int M, int N, int K, int n_begin, int n_end) {
  const std::size_t row = std::size_t(K / kQK) * B::kBytes;
  int n = n_begin;
  if (M <= kFusedRows) {
    for (; n + kNR <= n_end; n += kNR) fused<B, kNR>(x, w + n * row, row, y + n, M, N, K);
    for (; n < n_end; ++n) fused<B, 1>(x, w + n * row, row, y + n, M, N, K);
    return;
  }
  static thread_local std::vector<float> wf;
  if (wf.size() < std::size_t(kNR) * K) wf.resize(std::size_t(kNR) * K);
  for (; n + kNR <= n_end; n += kNR) {
    widen_rows<B, kNR>(w + n * row, row, K, wf.data());
    wide<kNR>(x, wf.data(), y + n, M, N, K);
  }
  for (; n < n_end; ++n) {
    widen_rows<B, 1>(w + n * row, row, K, wf.data());
    wide<1>(x, wf.data(), y + n, M, N, K);
  }
}

}  // namespace

void ggml_rows_avx512(std::uint32_t type, const float* x, const std::byte* w, float* y, int M, int N, int K,
                      int n_begin, int n_end) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(w);
  if (GgmlType(type) == GgmlType::kQ4_K) rows<Q4K>(x, bytes, y, M, N, K, n_begin, n_end);
  else rows<Q6K>(x, bytes, y, M, N, K, n_begin, n_end);
}

}  // namespace ladle::model::kernels

#endif  // __x86_64__
