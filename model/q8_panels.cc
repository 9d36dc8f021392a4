#include "model/q8_panels.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "model/gguf_types.h"

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

// roundf(x) (halves away from zero) for |x| < 2^31, without the libm call a generic x86-64 build
// makes for it (no SSE4.1 round instruction): x − trunc(x) is exact.
// NOTE(q8): the call was most of quantizing the 110M shape at load.
inline int round_half_away(float x) {
  int i = int(x);
  const float frac = x - float(i);
  if (frac >= 0.5f) ++i;
  else if (frac <= -0.5f) --i;
  return i;
}

Half load_half(const std::byte* p) {
  Half h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

}  // namespace

Half q8_quantize_block(const float* x, int n, std::int8_t* q) {
  // ggml-quants.c quantize_row_q8_0_ref, statement for statement.
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / ((1 << 7) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  for (int j = 0; j < n; ++j) q[j] = std::int8_t(round_half_away(x[j] * id));
  return float_to_half(d);
}

std::size_t q8_packed_bytes(int N, int K) { return std::size_t((N + kPanel - 1) / kPanel) * q8_panel_bytes(K); }

std::size_t q8_pack_rows(const float* w, int rows, int K, int n0, std::uint8_t* packed) {
  std::size_t bad = std::size_t(rows) * K;
  std::int8_t q[kQ8Block];
  for (int r = 0; r < rows; ++r) {
    const float* row = w + std::size_t(r) * K;
    for (int b = 0; b < q8_blocks(K); ++b) {
      const BlockSlot s = slot(packed, K, n0 + r, b);
      const float* x = row + std::size_t(b) * kQ8Block;
      // Refused first: what quantize_row_q8_0_ref would turn into inf or NaN.
      float amax = 0.0f;
      int first_bad = -1;
      for (int j = 0; j < s.kn; ++j) {
        if (!std::isfinite(x[j]) && first_bad < 0) first_bad = j;
        amax = std::max(amax, std::fabs(x[j]));
      }
      const Half dh = float_to_half(amax / ((1 << 7) - 1));
      if (first_bad < 0 && !std::isfinite(half_to_float(dh))) first_bad = int(std::max_element(x, x + s.kn, [](float a, float c) {
                                                                            return std::fabs(a) < std::fabs(c);
                                                                          }) - x);
      if (first_bad >= 0) {
        bad = std::min(bad, std::size_t(r) * K + std::size_t(b) * kQ8Block + std::size_t(first_bad));
        continue;
      }
      store(s, q, q8_quantize_block(x, s.kn, q));
    }
  }
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
  std::int8_t q[kQ8Block];
  for (int r = 0; r < rows; ++r)
    for (int b = 0; b < K / kQ8Block; ++b, src += block_bytes) {
      const std::byte* qs = src + sizeof(Half);
      if (q4) {
        for (int j = 0; j < kQ8Block / 2; ++j) {
          const int v = int(std::uint8_t(qs[j]));
          q[j] = std::int8_t((v & 0x0F) - 8);
          q[j + kQ8Block / 2] = std::int8_t((v >> 4) - 8);
        }
      } else {
        std::memcpy(q, qs, kQ8Block);
      }
      store(slot(packed, K, n0 + r, b), q, load_half(src));
    }
}

float q8_value(const std::uint8_t* packed, int K, int n, int k) {
  const BlockSlot s = slot(const_cast<std::uint8_t*>(packed), K, n, k / kQ8Block);
  Half d;
  std::memcpy(&d, s.d, sizeof d);
  return float(std::int8_t(s.block[q8_at(k % kQ8Block, s.c)])) * half_to_float(d);
}

}  // namespace ladle::model
