// ggml_panels: the file's Q4_K / Q6_K blocks rearranged into panels of 16 rows (layout in the
// header). Each row's super-block is first unpacked into its 256 unsigned weights in order, then
// written four weights a row at a time: words of the unpacked bytes combined with shifts (no
// weight is wider than its field, so no field spills into the next byte).
#include "model/ggml_panels.h"

#include <cstring>

#include "model/gguf_types.h"

namespace ladle::model {

namespace {

constexpr int kQK = 256;
constexpr int kRows = 16;

std::uint32_t load32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void store32(std::uint8_t* p, std::uint32_t v) { std::memcpy(p, &v, 4); }

// ggml's get_scale_min_k4 for the eight sub-blocks: scales into sc[0..8), mins into mn[0..8).
void q4k_scale_mins(const std::uint8_t* q, std::uint8_t* sc, std::uint8_t* mn) {
  for (int j = 0; j < 8; ++j)
    if (j < 4) {
      sc[j] = q[j] & 63;
      mn[j] = q[j + 4] & 63;
    } else {
      sc[j] = std::uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
      mn[j] = std::uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// The 4-bit fields of 256 weights w (each < 16) into qs chunks at `out` for row r.
void put_nibbles(const std::uint8_t* w, int r, std::uint8_t* out) {
  for (int c = 0; c < 32; ++c) store32(out + 64 * c + 4 * r, load32(w + 8 * c) | (load32(w + 8 * c + 4) << 4));
}

void pack_q4k_block(const std::uint8_t* b, int r, std::uint8_t* out) {
  std::uint8_t w[kQK];
  const std::uint8_t* qs = b + 16;
  for (int j = 0; j < 4; ++j)
    for (int l = 0; l < 32; ++l) {
      w[64 * j + l] = qs[32 * j + l] & 15;
      w[64 * j + 32 + l] = qs[32 * j + l] >> 4;
    }
  put_nibbles(w, r, out + q4k_panel::kQs);
  std::uint8_t sc[8], mn[8];
  q4k_scale_mins(b + 4, sc, mn);
  for (int s = 0; s < 8; ++s) {
    out[q4k_panel::kScales + 16 * s + r] = sc[s];
    out[q4k_panel::kMins + 16 * s + r] = mn[s];
  }
  std::memcpy(out + q4k_panel::kD + 2 * r, b, 2);
  std::memcpy(out + q4k_panel::kDmin + 2 * r, b + 2, 2);
}

void pack_q6k_block(const std::uint8_t* b, int r, std::uint8_t* out) {
  std::uint8_t low[kQK], high[kQK];  // each weight's low 4 bits and high 2 bits
  const std::uint8_t *ql = b, *qh = b + 128;
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const std::uint8_t a = ql[64 * h + l], c = ql[64 * h + 32 + l], hb = qh[32 * h + l];
      const int e = 128 * h + l;
      low[e] = a & 15, high[e] = hb & 3;
      low[e + 32] = c & 15, high[e + 32] = (hb >> 2) & 3;
      low[e + 64] = a >> 4, high[e + 64] = (hb >> 4) & 3;
      low[e + 96] = c >> 4, high[e + 96] = hb >> 6;
    }
  put_nibbles(low, r, out + q6k_panel::kQl);
  for (int h = 0; h < 16; ++h) {
    const std::uint8_t* g = high + 16 * h;
    store32(out + q6k_panel::kQh + 64 * h + 4 * r,
            load32(g) | (load32(g + 4) << 2) | (load32(g + 8) << 4) | (load32(g + 12) << 6));
  }
  for (int g = 0; g < 16; ++g) out[q6k_panel::kScales + 16 * g + r] = b[192 + g];
  std::memcpy(out + q6k_panel::kD + 2 * r, b + 208, 2);
}

}  // namespace

std::size_t ggml_panel_block_bytes(std::uint32_t type) {
  return GgmlType(type) == GgmlType::kQ4_K ? kQ4KPanelBlock : kQ6KPanelBlock;
}

std::size_t ggml_panel_bytes(std::uint32_t type, int K) { return std::size_t(K / kQK) * ggml_panel_block_bytes(type); }

std::size_t ggml_panels_bytes(std::uint32_t type, int N, int K) {
  return std::size_t((N + kRows - 1) / kRows) * ggml_panel_bytes(type, K);
}

void pack_ggml_panels(std::uint32_t type, const std::byte* blocks, int rows, int K, int n0, std::byte* panels) {
  const bool q4 = GgmlType(type) == GgmlType::kQ4_K;
  const std::size_t src_block = q4 ? 144 : 210, dst_block = ggml_panel_block_bytes(type);
  const int sbs = K / kQK;
  const auto* src = reinterpret_cast<const std::uint8_t*>(blocks);
  auto* dst = reinterpret_cast<std::uint8_t*>(panels);
  for (int i = 0; i < rows; ++i) {
    const int n = n0 + i, p = n / kRows, r = n % kRows;
    for (int sb = 0; sb < sbs; ++sb) {
      const std::uint8_t* b = src + (std::size_t(i) * sbs + sb) * src_block;
      std::uint8_t* out = dst + (std::size_t(p) * sbs + sb) * dst_block;
      if (q4) pack_q4k_block(b, r, out);
      else pack_q6k_block(b, r, out);
    }
  }
}

}  // namespace ladle::model
