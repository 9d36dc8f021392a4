// q8_panels: the block-quantized int8 panel layout matmul reads for `--weights q8` (ggml's Q8_0
// numbers in matmul's panel order), and the three ways to fill it: quantizing fp32 rows exactly as
// ggml's quantize_row_q8_0_ref does, and copying a GGUF's Q8_0 or Q4_0 blocks as they are.
//
// Layout of an [N × K] matrix: ceil(N / kPanel) panels, each of ceil(K / kQ8Block) blocks of
// kQ8Block rows along K (the last block may be shorter: K need not be a multiple of 32, e.g.
// stories260K's hidden 172). A block of kn rows holds its int8 in groups of 4 rows along K (kn
// rounded up to a multiple of 4, the padding rows 0): group g is kPanel × 4 bytes, column c's
// q[4g], q[4g+1], q[4g+2], q[4g+3] at 4c..4c+3, i.e. q[k] of column c at q8_at(k, c); then kPanel
// halves: column c's scale d. W[n][k] = q · d exactly (a float product of an int8 and a half
// needs at most 19 bits). Columns at or past N hold q = 0, d = 0.
//
// NOTE(q8): groups of 4 along K, not rows of kPanel as the float panels: one 32-bit lane holds 4
// consecutive k of one column, the operand of the int8 dot-product instructions (AVX-512 VNNI
// vpdpbusd, AVX2 vpmaddubsw + vpmaddwd) that sum 4 (2) adjacent byte products into a lane, so the
// int8-activation kernels (model/q8_activations.h) load weights as they lie. The float-activation
// kernels take row i of a group out of each lane with two shifts.
//
// NOTE(q8): scales as halves, not floats: ggml stores d as a half (quantize_row_q8_0_ref rounds
// d = amax/127 to half, yet computes q with the float 1/d), so a Q8_0 GGUF and a checkpoint
// quantized here give the same numbers; 1.0625 bytes per weight like ggml's block_q8_0.
//
// Free functions, no state; any thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/half.h"
#include "model/matmul.h"

namespace ladle::model {

inline constexpr int kQ8Block = 32;
// Rows along K per group (the bytes of one column in one 32-bit lane).
inline constexpr int kQ8Group = 4;
// Bytes of one group of one panel.
inline constexpr std::size_t kQ8GroupBytes = std::size_t(kQ8Group) * kPanel;
// Bytes of one whole block of one panel: kQ8Block × kPanel int8 + kPanel half scales.
inline constexpr std::size_t kQ8BlockBytes = std::size_t(kQ8Block) * kPanel + kPanel * sizeof(Half);

inline int q8_blocks(int K) { return (K + kQ8Block - 1) / kQ8Block; }
// Rows a block of kn rows occupies (kn rounded up to whole groups).
inline int q8_block_rows(int kn) { return (kn + kQ8Group - 1) / kQ8Group * kQ8Group; }
// Offset of q[k] of column c (k within the block, c within the panel) from the block's start.
inline std::size_t q8_at(int k, int c) {
  return std::size_t(k / kQ8Group) * kQ8GroupBytes + std::size_t(c) * kQ8Group + std::size_t(k % kQ8Group);
}
// Bytes of one panel (K rows) and of the whole [N × K] matrix.
inline std::size_t q8_panel_bytes(int K) {
  return std::size_t(q8_block_rows(K)) * kPanel + std::size_t(q8_blocks(K)) * kPanel * sizeof(Half);
}
std::size_t q8_packed_bytes(int N, int K);

// Quantizes the `rows` rows of w [rows × K] (llama2.c layout) block by block along K as
// quantize_row_q8_0_ref: amax = max|x|, d = amax / 127, q = roundf(x · (d ? 1/d : 0)), d stored as
// a half; writes them as output columns n0..n0+rows-1 of the q8 layout at `packed` (an N × K
// matrix, N >= n0 + rows; a zeroed buffer). Returns rows·K if every value fits, else the index
// (r·K + k) of the first value that does not: inf, NaN, or a block whose d overflows a half
// (amax >= 65520·127); that block is left zero.
std::size_t q8_pack_rows(const float* w, int rows, int K, int n0, std::uint8_t* packed);

// Copies `rows` rows of ggml blocks (ggml type Q8_0 or Q4_0, ggml-common.h's block_q8_0 /
// block_q4_0; K a multiple of 32; `src` may be unaligned) into columns n0.. of the q8 layout:
// Q8_0 as is, Q4_0's nibbles as q − 8 with the same d. The values are exactly what
// ggml_dequantize.h widens them to. Any other type is a programming error (checked by callers).
void q8_pack_ggml_rows(std::uint32_t type, const std::byte* src, int rows, int K, int n0, std::uint8_t* packed);
// Whether q8_pack_ggml_rows reads ggml type `type` (Q8_0, Q4_0): their values are int8 times the
// block's half scale exactly. Other types are widened and quantized as q8_pack_rows does.
bool q8_copies_ggml(std::uint32_t type);

// quantize_row_q8_0_ref on one block of n <= kQ8Block finite values: amax = max|x|, d = amax /
// 127, q[j] = roundf(x[j] · (d ? 1/d : 0)) (halves away from zero); returns d rounded to a half.
Half q8_quantize_block(const float* x, int n, std::int8_t* q);

// W[n][k] as the layout holds it (q · d), for tests.
float q8_value(const std::uint8_t* packed, int K, int n, int k);

}  // namespace ladle::model
