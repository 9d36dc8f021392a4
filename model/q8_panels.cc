#include "model/q8_panels.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "model/gguf_types.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ladle::model {

namespace {

// Column n's block b in the q8 layout: its kn int8 (at q8_at(k, c) from `block`) and its scale.
struct BlockSlot {
  std::uint8_t* block;  // the panel's block
  int c;                // n's column in the panel
  std::uint8_t* d;      // column n's half scale (unaligned bytes)
  int kn;               // rows in the block
};

BlockSlot slot(std::uint8_t* packed, int K, int n, int b) {
  const int kn = std::min(kQ8Block, K - b * kQ8Block), c = n % kPanel;
  std::uint8_t* block = packed + std::size_t(n / kPanel) * q8_panel_bytes(K) + std::size_t(b) * kQ8BlockBytes;
  return {block, c, block + std::size_t(q8_block_rows(kn)) * kPanel + std::size_t(c) * sizeof(Half), kn};
}

void store(const BlockSlot& s, const std::int8_t* q, Half d) {
  for (int k = 0; k < s.kn; ++k) s.block[q8_at(k, s.c)] = std::uint8_t(q[k]);
  std::memcpy(s.d, &d, sizeof d);
}

// Block b of a panel's columns gathered (q[c] holds column c's kQ8Block values, zero past the
// block's rows) written in the layout at `out` (the block's start): group g's 32-bit word c is
// column c's q[4g..4g+3], i.e. the [kPanel × 8] words of q transposed to [8 × kPanel].
void transpose_block(const std::int8_t (*q)[kQ8Block], std::uint8_t* out) {
  static_assert(kPanel == 16 && kQ8Block == 32 && kQ8Group == 4, "4 × 4 tiles of 32-bit words");
#if defined(__SSE2__)
  // Tiles of 4 columns × 4 groups (16 bytes of each column): the 4 × 4 word transpose.
  for (int g0 = 0; g0 < kQ8Block / kQ8Group; g0 += 4)
    for (int c0 = 0; c0 < kPanel; c0 += 4) {
      const auto row = [&](int i) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q[c0 + i] + g0 * kQ8Group)); };
      const __m128i r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3);
      const __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
      const __m128i t2 = _mm_unpackhi_epi32(r0, r1), t3 = _mm_unpackhi_epi32(r2, r3);
      const __m128i o[4] = {_mm_unpacklo_epi64(t0, t1), _mm_unpackhi_epi64(t0, t1), _mm_unpacklo_epi64(t2, t3),
                            _mm_unpackhi_epi64(t2, t3)};
      for (int i = 0; i < 4; ++i)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + std::size_t(g0 + i) * kQ8GroupBytes + std::size_t(c0) * kQ8Group), o[i]);
    }
#else
  for (int c = 0; c < kPanel; ++c)
    for (int k = 0; k < kQ8Block; ++k) out[q8_at(k, c)] = std::uint8_t(q[c][k]);
#endif
}

// Writes columns n0..n0+rows-1 of the q8 layout at `packed` ([N × K], zeroed): `fill(r, b, q, d)`
// puts row r's block b (kn = min(32, K − 32b) values) into q and its scale into d and returns
// false to leave that block zero. A panel the rows cover whole is written block by block as one
// contiguous run (its 16 columns gathered, then transposed as 32-bit words), any other column
// one byte per row of the block (q8_at).
// NOTE(q8): start-up. Storing column by column made q8_pack_ggml_rows 18 % of the CPU samples of
// `ladle generate --weights q8 -n 1` on the Llama-3.2-1B-shaped Q8_0 file (1.25 GB of panels;
// `perf record`, loaded Zen 4): ~0.96 s of CPU on the row-major panels (32 bytes at stride 16),
// 1.0–1.3 s on these grouped ones (a byte at q8_at per value). Gathered and transposed as 4 × 4
// tiles of 32-bit words (SSE2 unpacks), 0.23–0.31 s (four alternated runs, load average 3–6;
// the row-major panels' gather and byte transpose 0.27–0.36 s in the same rounds); the page
// faults of the new panels, counted apart, are the rest of packing.
template <class Fill>
void write_columns(std::uint8_t* packed, int rows, int K, int n0, Fill fill) {
  alignas(64) std::int8_t q[kPanel][kQ8Block];
  Half d[kPanel];
  const int blocks = q8_blocks(K);
  for (int p = n0 / kPanel; p * kPanel < n0 + rows; ++p) {
    const int c0 = std::max(n0, p * kPanel) - p * kPanel, c1 = std::min(n0 + rows, (p + 1) * kPanel) - p * kPanel;
    if (c0 == 0 && c1 == kPanel) {
      std::uint8_t* panel = packed + std::size_t(p) * q8_panel_bytes(K);
      for (int b = 0; b < blocks; ++b) {
        const int kn = std::min(kQ8Block, K - b * kQ8Block), kr = q8_block_rows(kn);
        std::uint8_t* block = panel + std::size_t(b) * kQ8BlockBytes;
        for (int c = 0; c < kPanel; ++c) {
          if (!fill(p * kPanel + c - n0, b, q[c], d[c])) {
            std::memset(q[c], 0, sizeof q[c]);
            d[c] = Half{};
          } else if (kn < kQ8Block) {
            std::memset(q[c] + kn, 0, std::size_t(kQ8Block - kn));  // the padding rows
          }
        }
        if (kn == kQ8Block) {
          transpose_block(q, block);
        } else {  // the short last block: only its kr rows are the panel's
          alignas(64) std::uint8_t t[std::size_t(kQ8Block) * kPanel];
          transpose_block(q, t);
          std::memcpy(block, t, std::size_t(kr) * kPanel);
        }
        std::memcpy(block + std::size_t(kr) * kPanel, d, sizeof d);
      }
      continue;
    }
    for (int c = c0; c < c1; ++c)
      for (int b = 0; b < blocks; ++b)
        if (fill(p * kPanel + c - n0, b, q[0], d[0])) store(slot(packed, K, p * kPanel + c, b), q[0], d[0]);
  }
}

// roundf(x) (halves away from zero) for |x| < 2^31, without the libm call a generic x86-64 build
// makes for it (no SSE4.1 round instruction): x − trunc(x) is exact.
// NOTE(q8): the call was most of quantizing the 110M shape at load.
inline int round_half_away(float x) {
  const int i = int(x);
  const float frac = x - float(i);
  return i + int(frac >= 0.5f) - int(frac <= -0.5f);
}

// max over j < n of x[j]'s bits without the sign (called with n = 32 to unroll): for finite
// floats the order of |x|, and inf or NaN lie above every finite value (0x7f800000 up).
inline std::uint32_t abs_bits_max(const float* x, int n) {
  std::uint32_t top = 0;
  for (int j = 0; j < n; ++j) {
    std::uint32_t bits;
    std::memcpy(&bits, x + j, sizeof bits);
    top = std::max(top, bits & 0x7fffffffu);
  }
  return top;
}

// q[j] = roundf(x[j] · id) for j < n (called with n = 32 to unroll).
inline void round_block(const float* x, float id, std::int8_t* q, int n) {
  for (int j = 0; j < n; ++j) q[j] = std::int8_t(round_half_away(x[j] * id));
}

// ggml-quants.c quantize_row_q8_0_ref on n finite values whose largest sign-less bits are `top`:
// amax = max|x|, d = amax / 127, q = roundf(x · (d ? 1/d : 0)); returns d as a half.
// NOTE(q8): in integers, and rounded without branches, the loops vectorize: quantizing the
// Q4_K_M file's widened matrices at load took ~2 s of CPU (39 % of `ladle generate --weights q8
// -n 1`'s samples, loaded Zen 4) with the float max, isfinite and the branchy rounding, ~1.1 s
// without. On the grouped panels (whole panels transposed as above), quantizer and packing
// 3.5–3.9 s → 1.45–1.58 s of CPU (four alternated runs, load average 3–6; the old layout's
// 1.47–1.49 s in the same rounds). Activations are quantized here too (model/q8_activations.h),
// every int8-activation matmul call.
inline Half quantize_top(const float* x, int n, std::uint32_t top, std::int8_t* q) {
  float amax;
  std::memcpy(&amax, &top, sizeof amax);
  const float d = amax / ((1 << 7) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  if (n == kQ8Block) round_block(x, id, q, kQ8Block);
  else round_block(x, id, q, n);
  return float_to_half(d);
}

// abs_bits_max of a block of n values, unrolled when whole.
inline std::uint32_t block_top(const float* x, int n) {
  return n == kQ8Block ? abs_bits_max(x, kQ8Block) : abs_bits_max(x, n);
}

Half load_half(const std::byte* p) {
  Half h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

}  // namespace

Half q8_quantize_block(const float* x, int n, std::int8_t* q) { return quantize_top(x, n, block_top(x, n), q); }

std::size_t q8_packed_bytes(int N, int K) { return std::size_t((N + kPanel - 1) / kPanel) * q8_panel_bytes(K); }

std::size_t q8_pack_rows(const float* w, int rows, int K, int n0, std::uint8_t* packed) {
  std::size_t bad = std::size_t(rows) * K;
  write_columns(packed, rows, K, n0, [&](int r, int b, std::int8_t* q, Half& d) {
    const float* x = w + std::size_t(r) * K + std::size_t(b) * kQ8Block;
    const int kn = std::min(kQ8Block, K - b * kQ8Block);
    // Refused: what quantize_row_q8_0_ref would turn into inf or NaN (a value that is not
    // finite, or a block whose d overflows a half: its exponent all ones).
    const std::uint32_t top = block_top(x, kn);
    int first_bad;
    if (top >= 0x7f800000u) {
      first_bad = int(std::find_if(x, x + kn, [](float v) { return !std::isfinite(v); }) - x);
    } else {
      d = quantize_top(x, kn, top, q);
      if ((d & 0x7c00u) != 0x7c00u) return true;
      first_bad = int(std::max_element(x, x + kn, [](float u, float v) { return std::fabs(u) < std::fabs(v); }) - x);
    }
    bad = std::min(bad, std::size_t(r) * K + std::size_t(b) * kQ8Block + std::size_t(first_bad));
    return false;
  });
  return bad;
}

bool q8_copies_ggml(std::uint32_t type) {
  return type == std::uint32_t(GgmlType::kQ8_0) || type == std::uint32_t(GgmlType::kQ4_0);
}

void q8_pack_ggml_rows(std::uint32_t type, const std::byte* src, int rows, int K, int n0, std::uint8_t* packed) {
  assert(K % kQ8Block == 0);
  const bool q4 = type == std::uint32_t(GgmlType::kQ4_0);
  assert(q4 || type == std::uint32_t(GgmlType::kQ8_0));
  // block_q8_0: half d, int8 qs[32]; block_q4_0: half d, uint8 qs[16] (low nibbles are elements
  // 0..15, high nibbles 16..31).
  const std::size_t block_bytes = sizeof(Half) + (q4 ? kQ8Block / 2 : kQ8Block);
  const std::size_t row_bytes = std::size_t(K / kQ8Block) * block_bytes;
  write_columns(packed, rows, K, n0, [&](int r, int b, std::int8_t* q, Half& d) {
    const std::byte* block = src + std::size_t(r) * row_bytes + std::size_t(b) * block_bytes;
    const std::byte* qs = block + sizeof(Half);
    if (q4) {
      for (int j = 0; j < kQ8Block / 2; ++j) {
        const int v = int(std::uint8_t(qs[j]));
        q[j] = std::int8_t((v & 0x0F) - 8);
        q[j + kQ8Block / 2] = std::int8_t((v >> 4) - 8);
      }
    } else {
      std::memcpy(q, qs, kQ8Block);
    }
    d = load_half(block);
    return true;
  });
}

float q8_value(const std::uint8_t* packed, int K, int n, int k) {
  const BlockSlot s = slot(const_cast<std::uint8_t*>(packed), K, n, k / kQ8Block);
  Half d;
  std::memcpy(&d, s.d, sizeof d);
  return float(std::int8_t(s.block[q8_at(k % kQ8Block, s.c)])) * half_to_float(d);
}

}  // namespace ladle::model
