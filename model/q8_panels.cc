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

// Column n's block b in the q8 layout: its kn int8 (stride kPanel) and its scale.
struct BlockSlot {
  std::uint8_t* q;  // row 0 of column n
  std::uint8_t* d;  // column n's half scale (unaligned bytes)
  int kn;           // rows in the block
};

BlockSlot slot(std::uint8_t* packed, int K, int n, int b) {
  const int kn = std::min(kQ8Block, K - b * kQ8Block), c = n % kPanel;
  std::uint8_t* block = packed + std::size_t(n / kPanel) * q8_panel_bytes(K) + std::size_t(b) * kQ8BlockBytes;
  return {block + c, block + std::size_t(kn) * kPanel + std::size_t(c) * sizeof(Half), kn};
}

void store(const BlockSlot& s, const std::int8_t* q, Half d) {
  for (int k = 0; k < s.kn; ++k) s.q[std::size_t(k) * kPanel] = std::uint8_t(q[k]);
  std::memcpy(s.d, &d, sizeof d);
}

// out[k·kPanel + c] = in[c·in_stride + k] for a 16 × 16 byte tile: 16 rows of 16 bytes to 16 columns.
void transpose16(const std::int8_t* in, std::size_t in_stride, std::uint8_t* out) {
#if defined(__SSE2__)
  // Four rounds of a perfect shuffle: unpacking rows i and i + 8 byte by byte rotates the 8-bit
  // (row, column) index left by one bit, so four rounds swap row and column.
  __m128i a[16], b[16];
  for (int i = 0; i < 16; ++i) a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + std::size_t(i) * in_stride));
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 8; ++i) {
      b[2 * i] = _mm_unpacklo_epi8(a[i], a[i + 8]);
      b[2 * i + 1] = _mm_unpackhi_epi8(a[i], a[i + 8]);
    }
    for (int i = 0; i < 16; ++i) a[i] = b[i];
  }
  for (int i = 0; i < 16; ++i) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + std::size_t(i) * kPanel), a[i]);
#else
  for (int k = 0; k < 16; ++k)
    for (int c = 0; c < 16; ++c) out[std::size_t(k) * kPanel + std::size_t(c)] = std::uint8_t(in[std::size_t(c) * in_stride + k]);
#endif
}

// Writes columns n0..n0+rows-1 of the q8 layout at `packed` ([N × K], zeroed): `fill(r, b, q, d)`
// puts row r's block b (kn = min(32, K − 32b) values) into q and its scale into d and returns
// false to leave that block zero. A panel the rows cover whole is written block by block as one
// contiguous run (its 16 rows gathered, then transposed), any other column one byte per row of
// the block at stride kPanel.
// NOTE(q8): start-up. Storing column by column (32 bytes at stride 16 for each row's block) made
// q8_pack_ggml_rows 18 % of the CPU samples of `ladle generate --weights q8 -n 1` on the
// Llama-3.2-1B-shaped Q8_0 file (1.25 GB of panels; `perf record`, loaded Zen 4): ~0.96 s of CPU;
// gathered and transposed whole blocks, its own time is ~0.2 s (the page faults of the new
// panels, counted apart, are the rest of packing).
template <class Fill>
void write_columns(std::uint8_t* packed, int rows, int K, int n0, Fill fill) {
  static_assert(kPanel == 16, "transpose16 writes 16 columns");
  alignas(64) std::int8_t q[kPanel][kQ8Block];
  Half d[kPanel];
  const int blocks = q8_blocks(K);
  for (int p = n0 / kPanel; p * kPanel < n0 + rows; ++p) {
    const int c0 = std::max(n0, p * kPanel) - p * kPanel, c1 = std::min(n0 + rows, (p + 1) * kPanel) - p * kPanel;
    if (c0 == 0 && c1 == kPanel) {
      std::uint8_t* block = packed + std::size_t(p) * q8_panel_bytes(K);
      alignas(64) std::uint8_t t[kQ8Block * kPanel];
      for (int b = 0; b < blocks; ++b) {
        const int kn = std::min(kQ8Block, K - b * kQ8Block);
        for (int c = 0; c < kPanel; ++c)
          if (!fill(p * kPanel + c - n0, b, q[c], d[c])) {
            std::memset(q[c], 0, sizeof q[c]);
            d[c] = Half{};
          }
        transpose16(&q[0][0], kQ8Block, t);
        transpose16(&q[0][kPanel], kQ8Block, t + kPanel * kPanel);
        std::memcpy(block, t, std::size_t(kn) * kPanel);
        std::memcpy(block + std::size_t(kn) * kPanel, d, sizeof d);
        block += std::size_t(kn) * kPanel + sizeof d;
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

// max over j < n of x[j]'s bits without the sign (called with n = 32 to unroll).
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

Half load_half(const std::byte* p) {
  Half h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

}  // namespace

std::size_t q8_packed_bytes(int N, int K) { return std::size_t((N + kPanel - 1) / kPanel) * q8_panel_bytes(K); }

std::size_t q8_pack_rows(const float* w, int rows, int K, int n0, std::uint8_t* packed) {
  std::size_t bad = std::size_t(rows) * K;
  write_columns(packed, rows, K, n0, [&](int r, int b, std::int8_t* q, Half& d) {
    const float* x = w + std::size_t(r) * K + std::size_t(b) * kQ8Block;
    const int kn = std::min(kQ8Block, K - b * kQ8Block);
    // ggml-quants.c quantize_row_q8_0_ref: amax = max|x|, d = amax / 127, q = roundf(x · 1/d).
    // max|x| as the largest of the values' bits without the sign: for finite floats the same
    // order, and inf or NaN lie above every finite value (0x7f800000 up).
    // NOTE(q8): in integers, and rounded without branches, the loops vectorize: quantizing the
    // Q4_K_M file's widened matrices at load took ~2 s of CPU (39 % of `ladle generate --weights
    // q8 -n 1`'s samples, loaded Zen 4) with the float max, isfinite and the branchy rounding;
    // ~1.1 s now (34 %; the K-quant widening beside it is another ~0.5 s).
    const std::uint32_t top = kn == kQ8Block ? abs_bits_max(x, kQ8Block) : abs_bits_max(x, kn);
    int first_bad = -1;
    if (top >= 0x7f800000u) first_bad = int(std::find_if(x, x + kn, [](float v) { return !std::isfinite(v); }) - x);
    float amax;
    std::memcpy(&amax, &top, sizeof amax);
    const float dq = amax / ((1 << 7) - 1);
    const float id = dq ? 1.0f / dq : 0.0f;
    const Half dh = float_to_half(dq);
    if (first_bad < 0 && (dh & 0x7c00u) == 0x7c00u)  // the half is inf (its exponent all ones)
      first_bad = int(std::max_element(x, x + kn, [](float u, float v) { return std::fabs(u) < std::fabs(v); }) - x);
    if (first_bad >= 0) {
      bad = std::min(bad, std::size_t(r) * K + std::size_t(b) * kQ8Block + std::size_t(first_bad));
      return false;
    }
    if (kn == kQ8Block) round_block(x, id, q, kQ8Block);
    else round_block(x, id, q, kn);
    d = dh;
    return true;
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
  return float(std::int8_t(s.q[std::size_t(k % kQ8Block) * kPanel])) * half_to_float(d);
}

}  // namespace ladle::model
