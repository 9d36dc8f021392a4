// ggml_dequantize: the block formats of ggml-common.h, widened as ggml-quants.c does.
#include "model/ggml_dequantize.h"

#include <cstdint>
#include <cstring>

#include "model/gguf_types.h"
#include "model/half.h"

namespace ladle::model {
namespace {

constexpr std::size_t kQK = 32;    // elements per Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 block
constexpr std::size_t kQK_K = 256;  // elements per K-quant super-block

Half load_half(const std::byte* p) {
  Half h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

float load_half_float(const std::byte* p) { return half_to_float(load_half(p)); }

int byte_at(const std::byte* p, std::size_t i) { return int(std::uint8_t(p[i])); }

// block_q8_0: half d, int8 qs[32]; x[j] = qs[j] * d.
void q8_0(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK; ++b, src += 2 + kQK, dst += kQK) {
    const float d = load_half_float(src);
    for (std::size_t j = 0; j < kQK; ++j) dst[j] = float(std::int8_t(src[2 + j])) * d;
  }
}

// block_q4_0: half d, 16 bytes qs; x[j] = ((qs[j] & 15) - 8) * d, x[j + 16] = ((qs[j] >> 4) - 8) * d.
void q4_0(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK; ++b, src += 2 + kQK / 2, dst += kQK) {
    const float d = load_half_float(src);
    for (std::size_t j = 0; j < kQK / 2; ++j) {
      const int q = byte_at(src, 2 + j);
      dst[j] = float((q & 0x0F) - 8) * d;
      dst[j + kQK / 2] = float((q >> 4) - 8) * d;
    }
  }
}

// block_q4_1: half d, half m, 16 bytes qs; x[j] = (qs[j] & 15) * d + m, x[j + 16] = (qs[j] >> 4) * d + m.
void q4_1(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK; ++b, src += 4 + kQK / 2, dst += kQK) {
    const float d = load_half_float(src), m = load_half_float(src + 2);
    for (std::size_t j = 0; j < kQK / 2; ++j) {
      const int q = byte_at(src, 4 + j);
      dst[j] = float(q & 0x0F) * d + m;
      dst[j + kQK / 2] = float(q >> 4) * d + m;
    }
  }
}

// The fifth bits of Q5_0 / Q5_1: bit j of the little-endian word qh is element j's.
std::uint32_t load_u32(const std::byte* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// block_q5_0: half d, u32 qh, 16 bytes qs; x[j] = ((qs[j] & 15 | bit j of qh << 4) - 16) * d,
// x[j + 16] the high nibble with bit j + 16.
void q5_0(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK; ++b, src += 6 + kQK / 2, dst += kQK) {
    const float d = load_half_float(src);
    const std::uint32_t qh = load_u32(src + 2);
    for (std::size_t j = 0; j < kQK / 2; ++j) {
      const int q = byte_at(src, 6 + j);
      const int h0 = int((qh >> j) & 1) << 4, h1 = int((qh >> (j + 16)) & 1) << 4;
      dst[j] = float(((q & 0x0F) | h0) - 16) * d;
      dst[j + kQK / 2] = float(((q >> 4) | h1) - 16) * d;
    }
  }
}

// block_q5_1: half d, half m, u32 qh, 16 bytes qs; as Q5_0 without the -16, plus m.
void q5_1(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK; ++b, src += 8 + kQK / 2, dst += kQK) {
    const float d = load_half_float(src), m = load_half_float(src + 2);
    const std::uint32_t qh = load_u32(src + 4);
    for (std::size_t j = 0; j < kQK / 2; ++j) {
      const int q = byte_at(src, 8 + j);
      const int h0 = int((qh >> j) & 1) << 4, h1 = int((qh >> (j + 16)) & 1) << 4;
      dst[j] = float((q & 0x0F) | h0) * d + m;
      dst[j + kQK / 2] = float((q >> 4) | h1) * d + m;
    }
  }
}

// The 6-bit scale and min of sub-block s (0..7) of a Q4_K / Q5_K super-block, packed in 12 bytes:
// sub-blocks 0..3 in the low six bits of bytes s and s + 4; 4..7 in the nibbles of byte s + 4 with
// their top two bits in the spare top bits of bytes s - 4 (scale) and s (min).
struct ScaleMin {
  int scale, min;
};
ScaleMin scale_min_k4(const std::byte* scales, std::size_t s) {
  if (s < 4) return {byte_at(scales, s) & 63, byte_at(scales, s + 4) & 63};
  return {(byte_at(scales, s + 4) & 0x0F) | ((byte_at(scales, s - 4) >> 6) << 4),
          (byte_at(scales, s + 4) >> 4) | ((byte_at(scales, s) >> 6) << 4)};
}

// block_q4_K: half d, half dmin, 12 bytes of scales, 128 bytes qs. Eight sub-blocks of 32; each
// 64 elements share 32 bytes of qs, low nibbles first: x = (d * scale) * q - (dmin * min).
void q4_k(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK_K; ++b, src += 144) {
    const float d = load_half_float(src), dmin = load_half_float(src + 2);
    const std::byte* scales = src + 4;
    const std::byte* qs = src + 16;
    for (std::size_t s = 0; s < 8; s += 2, qs += 32) {
      const ScaleMin lo = scale_min_k4(scales, s), hi = scale_min_k4(scales, s + 1);
      const float d1 = d * float(lo.scale), m1 = dmin * float(lo.min);
      const float d2 = d * float(hi.scale), m2 = dmin * float(hi.min);
      for (std::size_t l = 0; l < 32; ++l) *dst++ = d1 * float(byte_at(qs, l) & 0x0F) - m1;
      for (std::size_t l = 0; l < 32; ++l) *dst++ = d2 * float(byte_at(qs, l) >> 4) - m2;
    }
  }
}

// block_q5_K: half d, half dmin, 12 bytes of scales, 32 bytes qh, 128 bytes qs. As Q4_K, each
// element's fifth bit (worth 16) in qh[l]: bit 2i for the low nibbles of the i-th 64, 2i + 1 for
// the high ones.
void q5_k(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK_K; ++b, src += 176) {
    const float d = load_half_float(src), dmin = load_half_float(src + 2);
    const std::byte* scales = src + 4;
    const std::byte* qh = src + 16;
    const std::byte* qs = src + 48;
    for (std::size_t s = 0; s < 8; s += 2, qs += 32) {
      const ScaleMin lo = scale_min_k4(scales, s), hi = scale_min_k4(scales, s + 1);
      const float d1 = d * float(lo.scale), m1 = dmin * float(lo.min);
      const float d2 = d * float(hi.scale), m2 = dmin * float(hi.min);
      const int bit_lo = 1 << s, bit_hi = 2 << s;
      for (std::size_t l = 0; l < 32; ++l)
        *dst++ = d1 * float((byte_at(qs, l) & 0x0F) + (byte_at(qh, l) & bit_lo ? 16 : 0)) - m1;
      for (std::size_t l = 0; l < 32; ++l)
        *dst++ = d2 * float((byte_at(qs, l) >> 4) + (byte_at(qh, l) & bit_hi ? 16 : 0)) - m2;
    }
  }
}

// block_q6_K: 128 bytes ql (low nibbles), 64 bytes qh (top two bits), int8 scales[16], half d
// (last). Two halves of 128; in each, element l + 32 k (l < 32, k < 4) takes nibble k / 2 of
// ql[l + 32 (k % 2)] and bits 2k..2k+1 of qh[l], minus 32, times d * scales[l / 16 + 2 k]
// (multiplied in that order).
void q6_k(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK_K; ++b, src += 210) {
    const float d = load_half_float(src + 208);
    const std::byte* ql = src;
    const std::byte* qh = src + 128;
    const std::byte* sc = src + 192;
    for (std::size_t half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, dst += 128) {
      for (std::size_t l = 0; l < 32; ++l) {
        const std::size_t is = l / 16;
        const int h = byte_at(qh, l);
        const int q1 = ((byte_at(ql, l) & 0x0F) | ((h & 3) << 4)) - 32;
        const int q2 = ((byte_at(ql, l + 32) & 0x0F) | (((h >> 2) & 3) << 4)) - 32;
        const int q3 = ((byte_at(ql, l) >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const int q4 = ((byte_at(ql, l + 32) >> 4) | (((h >> 6) & 3) << 4)) - 32;
        dst[l] = d * float(std::int8_t(sc[is])) * float(q1);
        dst[l + 32] = d * float(std::int8_t(sc[is + 2])) * float(q2);
        dst[l + 64] = d * float(std::int8_t(sc[is + 4])) * float(q3);
        dst[l + 96] = d * float(std::int8_t(sc[is + 6])) * float(q4);
      }
    }
  }
}

}  // namespace

bool can_dequantize(std::uint32_t type) {
  switch (GgmlType(type)) {
    case GgmlType::kF32: case GgmlType::kF16: case GgmlType::kBF16: case GgmlType::kQ8_0: case GgmlType::kQ4_0:
    case GgmlType::kQ4_1: case GgmlType::kQ5_0: case GgmlType::kQ5_1:
    case GgmlType::kQ4_K: case GgmlType::kQ5_K: case GgmlType::kQ6_K:
      return true;
    default:
      return false;
  }
}

void dequantize(std::uint32_t type, const std::byte* src, float* dst, std::size_t n) {
  switch (GgmlType(type)) {
    case GgmlType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case GgmlType::kF16:
      // The bulk conversion (F16C where the CPU has it, the same values either way) needs aligned
      // halves, which every file with an even general.alignment gives.
      if (reinterpret_cast<std::uintptr_t>(src) % alignof(Half) == 0) {
        halves_to_floats({reinterpret_cast<const Half*>(src), n}, {dst, n});
        return;
      }
      for (std::size_t i = 0; i < n; ++i) dst[i] = half_to_float(load_half(src + 2 * i));
      return;
    case GgmlType::kBF16:  // the top half of a float's bits
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t bits = std::uint32_t(load_half(src + 2 * i)) << 16;
        std::memcpy(dst + i, &bits, sizeof bits);
      }
      return;
    case GgmlType::kQ8_0:
      q8_0(src, dst, n);
      return;
    case GgmlType::kQ4_0:
      q4_0(src, dst, n);
      return;
    case GgmlType::kQ4_1:
      q4_1(src, dst, n);
      return;
    case GgmlType::kQ5_0:
      q5_0(src, dst, n);
      return;
    case GgmlType::kQ5_1:
      q5_1(src, dst, n);
      return;
    case GgmlType::kQ4_K:
      q4_k(src, dst, n);
      return;
    case GgmlType::kQ5_K:
      q5_k(src, dst, n);
      return;
    case GgmlType::kQ6_K:
      q6_k(src, dst, n);
      return;
    default:
      return;  // can_dequantize() is false: callers check it first
  }
}

}  // namespace ladle::model
