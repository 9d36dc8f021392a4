// matmul_ggml: the activations' Q8_K quantization, the portable and AVX2 kernels on the panels of
// a GGUF file's Q4_K / Q6_K numbers (model/ggml_panels.h), the dispatch by ISA level and the split
// over the pool by panels; the AVX-512 (VNNI) kernel is model/matmul_ggml_avx512.cc. Every kernel
// computes the exact integer sums and the fixed float combination of the NOTE(ggml) in
// model/matmul_ggml.h, so all give the same bits for any M.
//
// NOTE(ggml): the layout. Until `kpanels` the file's blocks were read row by row as they are (one
// row of W against every row of x, 16 int32 lanes along k, summed across at the end): one row of x
// ran at the speed of memory (1.07x llama-server served, one stream), but at M > 1 every 256
// weights cost one float update per row of x and the sixteen-lane sum, and the Q4_K_M file served
// only 1.17x / 0.95x llama-server at 8 / 32 streams where the same file as q8 panels ran ~2x. In
// panels the lanes are output columns, as in the q8 kernels: no sum across lanes, the unpacked
// weights shared by a tile of rows of x, one float update per 256 weights and 16 outputs.
// Numbers in BENCHMARKS.md ("K-quant matrices in panels").
#include "model/matmul_ggml.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "model/ggml_panels.h"
#include "model/gguf_types.h"
#include "model/half.h"
#include "model/isa.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ladle::model {

namespace {

constexpr int kQK = 256;  // weights per super-block
constexpr int kRows = 16;  // rows of W per panel

float half_at(const std::uint8_t* p) {
  Half h;
  std::memcpy(&h, p, sizeof h);
  return half_to_float(h);
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

// Weight k of row r in the nibble chunks at `qs` (ggml_panels.h: chunk k / 8, byte 4r + k % 4).
int nibble_at(const std::uint8_t* qs, int r, int k) {
  const std::uint8_t byte = qs[64 * (k / 8) + 4 * r + k % 4];
  return k % 8 < 4 ? byte & 15 : byte >> 4;
}

// The float update of one super-block of one output (the NOTE's, spelled out).
float q4k_output(const std::uint8_t* b, int r, const std::int8_t* xq, const std::int16_t* bsum, float d8, float f) {
  int T = 0, U = 0;
  for (int s = 0; s < 8; ++s) {
    int dot = 0;
    for (int k = 32 * s; k < 32 * s + 32; ++k) dot += nibble_at(b + q4k_panel::kQs, r, k) * xq[k];
    T += b[q4k_panel::kScales + 16 * s + r] * dot;
    U += b[q4k_panel::kMins + 16 * s + r] * (bsum[2 * s] + bsum[2 * s + 1]);
  }
  const float d = half_at(b + q4k_panel::kD + 2 * r), dmin = half_at(b + q4k_panel::kDmin + 2 * r);
  return f + ((d * d8) * float(T) - (dmin * d8) * float(U));
}

float q6k_output(const std::uint8_t* b, int r, const std::int8_t* xq, const std::int16_t* bsum, float d8, float f) {
  int T = 0;
  for (int g = 0; g < 16; ++g) {
    int dot = 0;
    for (int k = 16 * g; k < 16 * g + 16; ++k) {
      const int high = (b[q6k_panel::kQh + 64 * g + 4 * r + k % 4] >> (2 * (k % 16 / 4))) & 3;
      dot += (nibble_at(b + q6k_panel::kQl, r, k) | high << 4) * xq[k];
    }
    const int scale = std::int8_t(b[q6k_panel::kScales + 16 * g + r]);
    T += scale * dot - 32 * scale * bsum[g];
  }
  return f + (half_at(b + q6k_panel::kD + 2 * r) * d8) * float(T);
}

}  // namespace

void ggml_rows_portable(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                        int n_begin, int n_end) {
  const bool q4 = GgmlType(type) == GgmlType::kQ4_K;
  const int sbs = K / kQK;
  const std::size_t block = ggml_panel_block_bytes(type);
  const auto* panels = reinterpret_cast<const std::uint8_t*>(w);
  for (int n = n_begin; n < n_end; ++n)
    for (int m = 0; m < M; ++m) {
      float f = 0;
      for (int sb = 0; sb < sbs; ++sb) {
        const std::uint8_t* b = panels + (std::size_t(n / kRows) * sbs + sb) * block;
        const std::size_t xb = std::size_t(m) * sbs + sb;
        f = (q4 ? q4k_output : q6k_output)(b, n % kRows, x.q + xb * kQK, x.bsum + xb * 16, x.d[xb], f);
      }
      y[std::size_t(m) * N + n] = f;
    }
}

#if defined(__x86_64__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace {

// The AVX2 kernel works on half a panel (8 rows, one ymm of int32 lanes) at a time: rows 8h ..
// 8h + 7 are bytes 32h .. 32h + 31 of every 64-byte chunk. vpmaddubsw multiplies the unsigned
// weights by the Q8_K bytes in pairs (below 2 · 63 · 127: no saturation), pairs of those are
// added in int16 (below 32,767: four for 4-bit weights, two for 6-bit ones), and vpmaddwd with
// the scale in both halves of each 32-bit lane sums them times the scale into int32.
constexpr int kMR2 = 4;  // rows of x per tile (16 ymm: MR · (T, f) + four weights + scale + sum)
// NOTE(ggml): one row of x takes the whole panel at once (two ymm a row) so that W is read once,
// with the super-block's lines prefetched as it starts. ggml_matmul_bench --native-only --isa
// avx2 on the 1B Q4_K_M file (Zen 4 at its AVX2 level, loaded: load average ~4, passes per
// CPU-second at M = 1 / 8 / 32, two alternated rounds each): the row-major kernel before the
// panels 14.3-16.8 / 1.9-2.0 / 0.53; panels by halves 12.2-12.9 / 5.0-5.2 / 1.9; with this
// one-row path 19.3-30.4 / 5.6-6.6 / 2.0-2.1.

inline __m256i bcast4(const std::int8_t* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Bytes s[0..8) (rows 8h ..) as int16 pairs (s, s) in each 32-bit lane, zero- or sign-extended.
inline __m256i pair_u8(const std::uint8_t* s) {
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s)));
  return _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
}
// (a, b) pairs of signed bytes a[0..8), b[0..8).
inline __m256i pair_s8(const std::uint8_t* a, const std::uint8_t* b) {
  const __m256i lo = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a)));
  const __m256i hi = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b)));
  return _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(hi, 16));
}

// Rows m0 .. m0 + MR − 1 of x against H halves of one panel, from half h0 (H = 2: the whole
// panel, for one row of x, which then reads W once; H = 1: a half, for up to four rows): the
// first `cols` (≤ 16 − 8 · h0) outputs of each row to y + row · N (y at the panel's half h0).
template <bool kQ4, int MR, int H>
void tile_avx2(const Q8KRows& x, int m0, const std::uint8_t* panel, int sbs, int h0, float* y, int N, int cols) {
  const std::size_t block = kQ4 ? kQ4KPanelBlock : kQ6KPanelBlock;
  const __m256i low4 = _mm256_set1_epi8(15), bits45 = _mm256_set1_epi8(0x30);
  __m256 f[MR][H];
  for (int i = 0; i < MR; ++i)
    for (int h = 0; h < H; ++h) f[i][h] = _mm256_setzero_ps();
  for (int sb = 0; sb < sbs; ++sb) {
    const std::uint8_t* b = panel + std::size_t(sb) * block;
    if (h0 == 0 && m0 == 0)  // the super-block's lines requested at once (NOTE in matmul_ggml_avx512.cc)
      for (std::size_t off = 0; off < block; off += 64) _mm_prefetch(reinterpret_cast<const char*>(b + off), _MM_HINT_T0);
    const Q8KTile<MR> xt(x, m0, sbs, sb);
    const auto& xq = xt.q;
    const auto& bs = xt.bsum;
    __m256i T[MR][H], C[MR][H];
    for (int i = 0; i < MR; ++i)
      for (int h = 0; h < H; ++h) T[i][h] = C[i][h] = _mm256_setzero_si256();
    if constexpr (kQ4) {
      for (int s = 0; s < 8; ++s) {
        for (int half = 0; half < 2; ++half) {  // 16 weights: chunks c, c + 1
          const int c = 4 * s + 2 * half, k = 8 * c;
          for (int h = 0; h < H; ++h) {
            const int at = 32 * (h0 + h);
            const __m256i scale = pair_u8(b + q4k_panel::kScales + 16 * s + 8 * (h0 + h));
            const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * c + at));
            const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 64 * c + 64 + at));
            const __m256i w0 = _mm256_and_si256(v0, low4), w1 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), low4);
            const __m256i w2 = _mm256_and_si256(v1, low4), w3 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), low4);
            for (int i = 0; i < MR; ++i) {
              const __m256i p = _mm256_add_epi16(
                  _mm256_add_epi16(_mm256_maddubs_epi16(w0, bcast4(xq[i] + k)), _mm256_maddubs_epi16(w1, bcast4(xq[i] + k + 4))),
                  _mm256_add_epi16(_mm256_maddubs_epi16(w2, bcast4(xq[i] + k + 8)), _mm256_maddubs_epi16(w3, bcast4(xq[i] + k + 12))));
              T[i][h] = _mm256_add_epi32(T[i][h], _mm256_madd_epi16(p, scale));
            }
          }
        }
        for (int h = 0; h < H; ++h) {
          const __m256i mins = pair_u8(b + q4k_panel::kMins + 16 * s + 8 * (h0 + h));
          for (int i = 0; i < MR; ++i)
            C[i][h] = _mm256_add_epi32(C[i][h], _mm256_madd_epi16(mins, bcast4(reinterpret_cast<const std::int8_t*>(bs[i] + 2 * s))));
        }
      }
      for (int h = 0; h < H; ++h) {
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + q4k_panel::kD + 16 * (h0 + h))));
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + q4k_panel::kDmin + 16 * (h0 + h))));
        for (int i = 0; i < MR; ++i) {
          const __m256 d8 = _mm256_set1_ps(xt.d[i]);
          const __m256 a = _mm256_mul_ps(_mm256_mul_ps(d, d8), _mm256_cvtepi32_ps(T[i][h]));
          const __m256 m = _mm256_mul_ps(_mm256_mul_ps(dmin, d8), _mm256_cvtepi32_ps(C[i][h]));
          f[i][h] = _mm256_add_ps(f[i][h], _mm256_sub_ps(a, m));
        }
      }
    } else {
      for (int g = 0; g < 16; ++g) {  // 16 weights: chunks 2g, 2g + 1 and high-bit chunk g
        const int k = 16 * g;
        for (int h = 0; h < H; ++h) {
          const int at = 32 * (h0 + h);
          const std::uint8_t* sc = b + q6k_panel::kScales + 16 * g + 8 * (h0 + h);
          const __m256i scale = pair_s8(sc, sc);
          const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 * g + at));
          const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 * g + 64 + at));
          const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + q6k_panel::kQh + 64 * g + at));
          const __m256i w0 = _mm256_or_si256(_mm256_and_si256(v0, low4), _mm256_and_si256(_mm256_slli_epi16(hb, 4), bits45));
          const __m256i w1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v0, 4), low4),
                                             _mm256_and_si256(_mm256_slli_epi16(hb, 2), bits45));
          const __m256i w2 = _mm256_or_si256(_mm256_and_si256(v1, low4), _mm256_and_si256(hb, bits45));
          const __m256i w3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v1, 4), low4),
                                             _mm256_and_si256(_mm256_srli_epi16(hb, 2), bits45));
          for (int i = 0; i < MR; ++i) {
            const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(w0, bcast4(xq[i] + k)), _mm256_maddubs_epi16(w1, bcast4(xq[i] + k + 4)));
            const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(w2, bcast4(xq[i] + k + 8)), _mm256_maddubs_epi16(w3, bcast4(xq[i] + k + 12)));
            T[i][h] = _mm256_add_epi32(T[i][h], _mm256_add_epi32(_mm256_madd_epi16(p01, scale), _mm256_madd_epi16(p23, scale)));
          }
        }
      }
      for (int j = 0; j < 8; ++j)  // Σ scale_g · bsum_g, two groups at a time
        for (int h = 0; h < H; ++h) {
          const std::uint8_t* sc = b + q6k_panel::kScales + 32 * j + 8 * (h0 + h);
          const __m256i scales = pair_s8(sc, sc + 16);
          for (int i = 0; i < MR; ++i)
            C[i][h] = _mm256_add_epi32(C[i][h], _mm256_madd_epi16(scales, bcast4(reinterpret_cast<const std::int8_t*>(bs[i] + 2 * j))));
        }
      for (int h = 0; h < H; ++h) {
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + q6k_panel::kD + 16 * (h0 + h))));
        for (int i = 0; i < MR; ++i) {
          const __m256 d8 = _mm256_set1_ps(xt.d[i]);
          const __m256i t = _mm256_sub_epi32(T[i][h], _mm256_slli_epi32(C[i][h], 5));
          f[i][h] = _mm256_add_ps(f[i][h], _mm256_mul_ps(_mm256_mul_ps(d, d8), _mm256_cvtepi32_ps(t)));
        }
      }
    }
  }
  for (int i = 0; i < MR; ++i) {
    alignas(32) float out[8 * H];
    for (int h = 0; h < H; ++h) _mm256_store_ps(out + 8 * h, f[i][h]);
    std::memcpy(y + std::size_t(m0 + i) * N, out, sizeof(float) * std::size_t(std::clamp(cols, 0, 8 * H)));
  }
}

// NOTE(ggml): the activations' quantization runs on the calling thread while the pool waits, once
// per matmul: in scalar code it cost ~10 % of a step at 8 and 32 rows. ggml_matmul_bench --ms
// 1,8,32 --native-only (Zen 4, loaded: load average ~5.5, so per CPU-second), three alternated
// rounds, passes per CPU-second: scalar 7.9-8.4 at M = 8, 2.6-2.7 at M = 32; this 8.8-9.1,
// 2.9-3.0 (one row: 28-31 either way).
// quantize_q8k eight floats at a time: the largest magnitude by vmaxps (exact), its first
// occurrence's signed value, the same scale, vmulps then round-half-even (nearbyint's), the same
// clamp at 127, and the sums of 16 in int32.
void quantize_block_avx2(const float* x, std::int8_t* q, float* d, std::int16_t* bsum) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 amax8 = _mm256_setzero_ps();
  for (int j = 0; j < kQK; j += 8) amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
  __m128 a4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
  a4 = _mm_max_ps(a4, _mm_movehl_ps(a4, a4));
  const float amax = _mm_cvtss_f32(_mm_max_ss(a4, _mm_movehdup_ps(a4)));
  if (!(amax > 0)) {  // all zero (or NaN, which the scalar loop also never takes as the largest)
    *d = 0;
    std::memset(q, 0, kQK);
    std::memset(bsum, 0, sizeof(std::int16_t) * (kQK / 16));
    return;
  }
  int first = 0;
  while (std::fabs(x[first]) != amax) ++first;
  const float iscale = -127.f / x[first];
  const __m256 s = _mm256_set1_ps(iscale);
  const __m256i top = _mm256_set1_epi32(127);
  for (int g = 0; g < kQK / 16; ++g) {
    __m256i v[2];
    for (int h = 0; h < 2; ++h) {
      const __m256 r = _mm256_round_ps(_mm256_mul_ps(s, _mm256_loadu_ps(x + 16 * g + 8 * h)),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      v[h] = _mm256_min_epi32(_mm256_cvtps_epi32(r), top);
    }
    const __m256i sum8 = _mm256_add_epi32(v[0], v[1]);
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum8), _mm256_extracti128_si256(sum8, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    bsum[g] = std::int16_t(_mm_cvtsi128_si32(s4));
    // int32 -> int8 in order: packs work within 128-bit lanes, then a permute puts them back.
    const __m256i w16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(v[0], v[1]), 0xD8);
    const __m128i b8 = _mm_packs_epi16(_mm256_castsi256_si128(w16), _mm256_extracti128_si256(w16, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16 * g), b8);
  }
  *d = 1 / iscale;
}

template <bool kQ4>
void rows_avx2(const Q8KRows& x, const std::uint8_t* w, float* y, int M, int N, int K, int n_begin, int n_end) {
  const int sbs = K / kQK;
  const std::size_t panel_bytes = std::size_t(sbs) * (kQ4 ? kQ4KPanelBlock : kQ6KPanelBlock);
  for (int n = n_begin; n < n_end; n += kRows) {
    const std::uint8_t* panel = w + std::size_t(n / kRows) * panel_bytes;
    if (M == 1) {  // the whole panel at once: W read once
      tile_avx2<kQ4, 1, 2>(x, 0, panel, sbs, 0, y + n, N, n_end - n);
      continue;
    }
    for (int h = 0; h < 2; ++h) {
      const int cols = std::min(8, n_end - n - 8 * h);
      if (cols <= 0) break;
      int m = 0;
      for (; m + kMR2 <= M; m += kMR2) tile_avx2<kQ4, kMR2, 1>(x, m, panel, sbs, h, y + n + 8 * h, N, cols);
      switch (M - m) {
        case 3: tile_avx2<kQ4, 3, 1>(x, m, panel, sbs, h, y + n + 8 * h, N, cols); break;
        case 2: tile_avx2<kQ4, 2, 1>(x, m, panel, sbs, h, y + n + 8 * h, N, cols); break;
        case 1: tile_avx2<kQ4, 1, 1>(x, m, panel, sbs, h, y + n + 8 * h, N, cols); break;
        default: break;
      }
    }
  }
}

}  // namespace

void ggml_rows_avx2(std::uint32_t type, const Q8KRows& x, const std::byte* w, float* y, int M, int N, int K,
                    int n_begin, int n_end) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(w);
  if (GgmlType(type) == GgmlType::kQ4_K) rows_avx2<true>(x, bytes, y, M, N, K, n_begin, n_end);
  else rows_avx2<false>(x, bytes, y, M, N, K, n_begin, n_end);
}

void quantize_q8k_avx2(const float* x, int M, int K, std::int8_t* q, float* d, std::int16_t* bsum) {
  for (std::size_t b = 0; b < std::size_t(M) * (K / kQK); ++b)
    quantize_block_avx2(x + b * kQK, q + b * kQK, d + b, bsum + b * (kQK / 16));
}

#pragma GCC pop_options
#endif

}  // namespace kernels

void quantize_q8k_fast(const float* x, int M, int K, std::int8_t* q, float* d, std::int16_t* bsum) {
#if defined(__x86_64__)
  if (active_isa() != Isa::kPortable) return kernels::quantize_q8k_avx2(x, M, K, q, d, bsum);
#endif
  quantize_q8k(x, M, K, q, d, bsum);
}

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
    quantize_q8k_fast(x, M, K, q.data(), d.data(), bsum.data());
    return {q.data(), d.data(), bsum.data()};
  }
};
thread_local Q8KBuffer q8k_buffer;

}  // namespace

bool matmul_reads_ggml(std::uint32_t type) {
  return GgmlType(type) == GgmlType::kQ4_K || GgmlType(type) == GgmlType::kQ6_K;
}

void matmul_ggml_rows(const float* x, const PackedMatrix& w, float* y, int M, int n_begin, int n_end) {
  const Q8KRows xq = q8k_buffer.quantize(x, M, w.K);
  kernel()(w.ggml_type, xq, w.ggml, y, M, w.N, w.K, n_begin, n_end);
}

void matmul_ggml(const float* x, const PackedMatrix& w, float* y, int M, ThreadPool* pool) {
  const kernels::GgmlRowsFn run = kernel();
  const int N = w.N;
  const Q8KRows xq = q8k_buffer.quantize(x, M, w.K);
  // Tasks of whole panels, about 8 per thread and at most 4 panels (64 rows), claimed
  // dynamically (as matmul's panels: a descheduled thread leaves little behind).
  const int threads = pool ? pool->num_threads() : 1;
  const int panels = (N + kRows - 1) / kRows;
  const int per_task = std::clamp(panels / (8 * threads), 1, 4) * kRows;
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
