// ggml_dequantize: the block formats of ggml-common.h, widened as ggml-quants.c does.
#include "model/ggml_dequantize.h"

#include <cstdint>
#include <cstring>

#include "model/gguf_types.h"
#include "model/half.h"

namespace ladle::model {
namespace {

constexpr std::size_t kQK = 32;  // elements per Q8_0 and Q4_0 block

Half load_half(const std::byte* p) {
  Half h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

// block_q8_0: half d, int8 qs[32]; x[j] = qs[j] * d.
void q8_0(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK; ++b, src += 2 + kQK, dst += kQK) {
    const float d = half_to_float(load_half(src));
    for (std::size_t j = 0; j < kQK; ++j) dst[j] = float(std::int8_t(src[2 + j])) * d;
  }
}

// block_q4_0: half d, 16 bytes qs; x[j] = ((qs[j] & 15) - 8) * d, x[j + 16] = ((qs[j] >> 4) - 8) * d.
void q4_0(const std::byte* src, float* dst, std::size_t n) {
  for (std::size_t b = 0; b < n / kQK; ++b, src += 2 + kQK / 2, dst += kQK) {
    const float d = half_to_float(load_half(src));
    for (std::size_t j = 0; j < kQK / 2; ++j) {
      const int q = int(std::uint8_t(src[2 + j]));
      dst[j] = float((q & 0x0F) - 8) * d;
      dst[j + kQK / 2] = float((q >> 4) - 8) * d;
    }
  }
}

}  // namespace

bool can_dequantize(std::uint32_t type) {
  switch (GgmlType(type)) {
    case GgmlType::kF32: case GgmlType::kF16: case GgmlType::kBF16: case GgmlType::kQ8_0: case GgmlType::kQ4_0:
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
    default:
      return;  // can_dequantize() is false: callers check it first
  }
}

}  // namespace ladle::model
