// The AVX-512 kernel on the panels of a GGUF file's Q4_K / Q6_K numbers (model/ggml_panels.h,
// model/matmul_ggml.h): one zmm holds four consecutive weights of each of a panel's 16 rows, so
// VNNI's vpdpbusd multiplies them by four broadcast Q8_K bytes of a row of x into 16 int32 lanes,
// one per output, exact; the scales are applied per 16 weights in integers (vpdpwssd, or
// vpmulld for Q6_K's larger sums), and each super-block ends with the NOTE's float update.
// A tile is MR ≤ 8 rows of x against one panel: the unpacked weights are shared by the MR rows,
// and each row's 16 outputs stay in a register for the whole of K.
// Chosen at run time (model/isa.h) when the CPU also has AVX512-VNNI.
#include <algorithm>
#include <cstring>

#include "model/ggml_panels.h"
#include "model/gguf_types.h"
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
constexpr int kRows = 16;  // rows of W per panel
constexpr int kMR = 8;  // rows of x per tile: 8 · (T, C, f) + four weights + scale stay in 32 zmm
// NOTE(ggml): each super-block's lines are prefetched as the tile reaches it (all 37 or 53
// requests in flight at once, rather than one line at a time as the loads reach them), not
// ahead: ggml_matmul_bench --ms 1,8,32 --native-only on the 1B Q4_K_M file (Zen 4, 2 vCPUs,
// nothing else running but two helpers reading code; passes/s at M = 1 / 8 / 32): no prefetch
// 29.9-30.3 / 12.6 / 4.8; the block's own lines 36.0-41.9 / 13.3-15.0 / 4.5-4.9; 512 bytes ahead
// 33.6 / 12.8 / 4.8; one block (2,368) ahead 30.6-31.2 / 11.2 / 4.7; 4 KiB ahead 38.6-39.2 /
// 12.1 / 4.2-4.5; 8, 16, 32 KiB ahead 34.1, 30.6, 27.1 at M = 1.

LADLE_AVX512_VNNI inline __m512i bcast4(const void* p) {
  std::int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
LADLE_AVX512_VNNI inline __m512i load(const std::uint8_t* p) { return _mm512_loadu_si512(p); }
LADLE_AVX512_VNNI inline __m512i u8x16(const std::uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
LADLE_AVX512_VNNI inline __m512i s8x16(const std::uint8_t* p) {
  return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
LADLE_AVX512_VNNI inline __m512 halves16(const std::uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Rows m0 .. m0 + MR − 1 of x against one panel (sbs super-blocks at `panel`): the first `cols`
// (≤ 16) outputs of each row to y + row · N.
template <bool kQ4, int MR>
LADLE_AVX512_VNNI void tile(const Q8KRows& x, int m0, const std::uint8_t* panel, int sbs, float* y, int N, int cols) {
  constexpr std::size_t kBlock = kQ4 ? kQ4KPanelBlock : kQ6KPanelBlock;
  const __m512i low4 = _mm512_set1_epi8(15), bits45 = _mm512_set1_epi8(0x30);
  __m512 f[MR];
  for (int i = 0; i < MR; ++i) f[i] = _mm512_setzero_ps();
  for (int sb = 0; sb < sbs; ++sb) {
    const std::uint8_t* b = panel + std::size_t(sb) * kBlock;
    for (std::size_t off = 0; off < kBlock; off += 64) _mm_prefetch(reinterpret_cast<const char*>(b + off), _MM_HINT_T0);
    const Q8KTile<MR> xt(x, m0, sbs, sb);
    const auto& xq = xt.q;
    const auto& bs = xt.bsum;
    __m512i T[MR], C[MR];
    for (int i = 0; i < MR; ++i) T[i] = C[i] = _mm512_setzero_si512();
    if constexpr (kQ4) {
      for (int s = 0; s < 8; ++s) {
        const __m512i scale = u8x16(b + q4k_panel::kScales + 16 * s);  // below 64: the high halves 0
        for (int half = 0; half < 2; ++half) {  // 16 weights: chunks c, c + 1
          const int c = 4 * s + 2 * half, k = 8 * c;
          const __m512i v0 = load(b + 64 * c), v1 = load(b + 64 * c + 64);
          const __m512i w0 = _mm512_and_si512(v0, low4), w1 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), low4);
          const __m512i w2 = _mm512_and_si512(v1, low4), w3 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), low4);
          for (int i = 0; i < MR; ++i) {
            // Below 16 · 15 · 127 in magnitude: an int16 in the low half, vpdpwssd's operand.
            __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w0, bcast4(xq[i] + k));
            dot = _mm512_dpbusd_epi32(dot, w1, bcast4(xq[i] + k + 4));
            dot = _mm512_dpbusd_epi32(dot, w2, bcast4(xq[i] + k + 8));
            dot = _mm512_dpbusd_epi32(dot, w3, bcast4(xq[i] + k + 12));
            T[i] = _mm512_dpwssd_epi32(T[i], dot, scale);
          }
        }
      }
      for (int s = 0; s < 8; ++s) {  // U: each min times its sub-block's two sums of 16
        const __m512i m = u8x16(b + q4k_panel::kMins + 16 * s);
        const __m512i mins = _mm512_or_si512(m, _mm512_slli_epi32(m, 16));
        for (int i = 0; i < MR; ++i) C[i] = _mm512_dpwssd_epi32(C[i], mins, bcast4(bs[i] + 2 * s));
      }
      const __m512 d = halves16(b + q4k_panel::kD), dmin = halves16(b + q4k_panel::kDmin);
      for (int i = 0; i < MR; ++i) {
        const __m512 d8 = _mm512_set1_ps(xt.d[i]);
        const __m512 a = _mm512_mul_ps(_mm512_mul_ps(d, d8), _mm512_cvtepi32_ps(T[i]));
        const __m512 m = _mm512_mul_ps(_mm512_mul_ps(dmin, d8), _mm512_cvtepi32_ps(C[i]));
        f[i] = _mm512_add_ps(f[i], _mm512_sub_ps(a, m));
      }
    } else {
      for (int g = 0; g < 16; ++g) {  // 16 weights: low-bit chunks 2g, 2g + 1, high-bit chunk g
        const __m512i scale = s8x16(b + q6k_panel::kScales + 16 * g);
        const __m512i v0 = load(b + 128 * g), v1 = load(b + 128 * g + 64), hb = load(b + q6k_panel::kQh + 64 * g);
        const __m512i w0 = _mm512_or_si512(_mm512_and_si512(v0, low4), _mm512_and_si512(_mm512_slli_epi16(hb, 4), bits45));
        const __m512i w1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v0, 4), low4),
                                           _mm512_and_si512(_mm512_slli_epi16(hb, 2), bits45));
        const __m512i w2 = _mm512_or_si512(_mm512_and_si512(v1, low4), _mm512_and_si512(hb, bits45));
        const __m512i w3 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(v1, 4), low4),
                                           _mm512_and_si512(_mm512_srli_epi16(hb, 2), bits45));
        const int k = 16 * g;
        for (int i = 0; i < MR; ++i) {
          __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w0, bcast4(xq[i] + k));
          dot = _mm512_dpbusd_epi32(dot, w1, bcast4(xq[i] + k + 4));
          dot = _mm512_dpbusd_epi32(dot, w2, bcast4(xq[i] + k + 8));
          dot = _mm512_dpbusd_epi32(dot, w3, bcast4(xq[i] + k + 12));
          T[i] = _mm512_add_epi32(T[i], _mm512_mullo_epi32(dot, scale));
        }
      }
      for (int j = 0; j < 8; ++j) {  // Σ scale_g · bsum_g, groups 2j and 2j + 1 at once
        const __m512i lo = s8x16(b + q6k_panel::kScales + 32 * j), hi = s8x16(b + q6k_panel::kScales + 32 * j + 16);
        const __m512i scales = _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(hi, 16));
        for (int i = 0; i < MR; ++i) C[i] = _mm512_dpwssd_epi32(C[i], scales, bcast4(bs[i] + 2 * j));
      }
      const __m512 d = halves16(b + q6k_panel::kD);
      for (int i = 0; i < MR; ++i) {
        const __m512 d8 = _mm512_set1_ps(xt.d[i]);
        const __m512i t = _mm512_sub_epi32(T[i], _mm512_slli_epi32(C[i], 5));
        f[i] = _mm512_add_ps(f[i], _mm512_mul_ps(_mm512_mul_ps(d, d8), _mm512_cvtepi32_ps(t)));
      }
    }
  }
  const __mmask16 keep = cols >= kRows ? __mmask16(0xFFFF) : __mmask16((1u << cols) - 1);
  for (int i = 0; i < MR; ++i) _mm512_mask_storeu_ps(y + std::size_t(m0 + i) * N, keep, f[i]);
}

template <bool kQ4>
LADLE_AVX512_VNNI void tail_tile(int rows, const Q8KRows& x, int m0, const std::uint8_t* panel, int sbs, float* y, int N,
                                 int cols) {
  switch (rows) {
    case 7: return tile<kQ4, 7>(x, m0, panel, sbs, y, N, cols);
    case 6: return tile<kQ4, 6>(x, m0, panel, sbs, y, N, cols);
    case 5: return tile<kQ4, 5>(x, m0, panel, sbs, y, N, cols);
    case 4: return tile<kQ4, 4>(x, m0, panel, sbs, y, N, cols);
    case 3: return tile<kQ4, 3>(x, m0, panel, sbs, y, N, cols);
    case 2: return tile<kQ4, 2>(x, m0, panel, sbs, y, N, cols);
    case 1: return tile<kQ4, 1>(x, m0, panel, sbs, y, N, cols);
    default: return;
  }
}

template <bool kQ4>
LADLE_AVX512_VNNI void rows(const Q8KRows& x, const std::uint8_t* w, float* y, int M, int N, int K, int n_begin,
                            int n_end) {
  const int sbs = K / kQK;
  const std::size_t panel_bytes = std::size_t(sbs) * (kQ4 ? kQ4KPanelBlock : kQ6KPanelBlock);
  for (int n = n_begin; n < n_end; n += kRows) {
    const std::uint8_t* panel = w + std::size_t(n / kRows) * panel_bytes;
    const int cols = n_end - n;
    int m = 0;
    for (; m + kMR <= M; m += kMR) tile<kQ4, kMR>(x, m, panel, sbs, y + n, N, cols);
    tail_tile<kQ4>(M - m, x, m, panel, sbs, y + n, N, cols);
  }
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
