// ggml_panels: a GGUF file's Q4_K / Q6_K matrices rearranged, bit for bit, into panels of kPanel
// (16) rows of W, so that one 64-byte vector holds 4 consecutive weights of each of 16 output
// columns: the layout of vpdpbusd (u8 weights × 4 broadcast int8 activations into 16 int32
// lanes), the same idea as the q8 panels (model/q8_panels.h), without widening a weight or
// changing any number the file holds (`--weights native`, model/matmul_ggml.h).
//
// Panel p holds rows 16p .. 16p + 15 (rows at or past N are zero: scales 0), its super-blocks
// (256 weights along K each, the file's blocks of those 16 rows) one after another: a panel is
// one contiguous stream. Within a super-block, r a row of the panel (0..15) and i < 4:
//   Q4_K (kQ4KPanelBlock = 2,368 bytes, 4.625 bits a weight; the file's block is 4.5):
//     qs [32][64]  chunk c, byte 4r + i: low nibble weight k = 8c + i, high nibble k = 8c + 4 + i
//     sc [8][16]   the 6-bit scale of sub-block s (32 weights) of row r, one byte
//     mn [8][16]   its 6-bit min
//     d [16], dmin [16]   the halves, as the file holds them
//   Q6_K (kQ6KPanelBlock = 3,392 bytes; the file's 6.5625 bits a weight plus 32 bytes of padding
//   that keep every super-block on a 64-byte line):
//     ql [32][64]  the low 4 bits, as Q4_K's qs
//     qh [16][64]  chunk h, byte 4r + i, bits 2j, 2j + 1: the high 2 bits of weight 16h + 4j + i
//     sc [16][16]  the signed 8-bit scale of group g (16 weights) of row r
//     d [16]       the halves
// Weights are the file's unsigned values (q4 in 0..15, q6 in 0..63: the file's value + 32).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ladle::model {

inline constexpr std::size_t kQ4KPanelBlock = 2368;
inline constexpr std::size_t kQ6KPanelBlock = 3392;

// Offsets within one super-block of a panel.
namespace q4k_panel {
inline constexpr std::size_t kQs = 0, kScales = 2048, kMins = 2176, kD = 2304, kDmin = 2336;
}
namespace q6k_panel {
inline constexpr std::size_t kQl = 0, kQh = 2048, kScales = 3072, kD = 3328;
}

// Bytes of one super-block of a panel of ggml `type` (Q4_K or Q6_K).
std::size_t ggml_panel_block_bytes(std::uint32_t type);
// Bytes of one panel of K weights a row (K a multiple of 256).
std::size_t ggml_panel_bytes(std::uint32_t type, int K);
// Bytes of an N × K matrix in panels (N rounded up to whole panels).
std::size_t ggml_panels_bytes(std::uint32_t type, int N, int K);

// Writes `rows` rows of W [rows × K] in the file's blocks of `type` (row-major, rows of
// K / 256 blocks) as rows n0 .. n0 + rows − 1 of the panels at `panels` (the whole matrix's
// buffer; n0 a multiple of 16). Rows of a panel it is not given are left untouched: zero the
// buffer first.
void pack_ggml_panels(std::uint32_t type, const std::byte* blocks, int rows, int K, int n0, std::byte* panels);

}  // namespace ladle::model
