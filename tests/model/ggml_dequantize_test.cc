// ggml_dequantize: hand-computed blocks of each type ladle reads (ggml-common.h's layouts), and the
// same values from an unaligned source as from an aligned one.
#include "model/ggml_dequantize.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "model/gguf_types.h"
#include "model/half.h"

namespace ladle::model {
namespace {

std::vector<float> widen(GgmlType type, const std::vector<std::byte>& bytes, std::size_t n, std::size_t shift = 0) {
  std::vector<std::byte> buf(bytes.size() + shift);
  std::memcpy(buf.data() + shift, bytes.data(), bytes.size());
  std::vector<float> out(n);
  dequantize(std::uint32_t(type), buf.data() + shift, out.data(), n);
  return out;
}

template <class T>
void put(std::vector<std::byte>& b, T v) {
  const std::size_t at = b.size();
  b.resize(at + sizeof v);
  std::memcpy(b.data() + at, &v, sizeof v);
}

TEST(GgmlDequantize, Q8_0IsQuantTimesHalfScale) {
  std::vector<std::byte> b;
  put<Half>(b, 0x3800);  // 0.5
  for (int j = 0; j < 32; ++j) put<std::int8_t>(b, std::int8_t(j * 8 - 128));
  const auto x = widen(GgmlType::kQ8_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(x[std::size_t(j)], float(j * 8 - 128) * 0.5f) << j;
  EXPECT_EQ(widen(GgmlType::kQ8_0, b, 32, 1), x);
}

TEST(GgmlDequantize, Q4_0PutsLowNibblesFirst) {
  std::vector<std::byte> b;
  put<Half>(b, 0xC000);  // -2
  for (int j = 0; j < 16; ++j) put<std::uint8_t>(b, std::uint8_t(j | ((15 - j) << 4)));
  const auto x = widen(GgmlType::kQ4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(x[std::size_t(j)], float(j - 8) * -2.0f) << j;
    EXPECT_EQ(x[std::size_t(j) + 16], float(15 - j - 8) * -2.0f) << j;
  }
  EXPECT_EQ(widen(GgmlType::kQ4_0, b, 32, 3), x);
}

TEST(GgmlDequantize, HalvesAndBfloat16WidenExactly) {
  std::vector<std::byte> h, bf;
  const std::vector<Half> halves = {0x0000, 0x8000, 0x3C00, 0x7BFF, 0x0001, 0xFC00, 0x3555};
  for (Half v : halves) put(h, v);
  const auto aligned = widen(GgmlType::kF16, h, halves.size());
  for (std::size_t i = 0; i < halves.size(); ++i) EXPECT_EQ(aligned[i], half_to_float(halves[i])) << i;
  EXPECT_EQ(widen(GgmlType::kF16, h, halves.size(), 1), aligned);  // the scalar path agrees
  for (float f : {1.0f, -3.5f, 1e-30f}) {
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    put<std::uint16_t>(bf, std::uint16_t(bits >> 16));
  }
  EXPECT_EQ(widen(GgmlType::kBF16, bf, 3), (std::vector<float>{1.0f, -3.5f, widen(GgmlType::kBF16, bf, 3)[2]}));
  EXPECT_EQ(widen(GgmlType::kBF16, bf, 3)[1], -3.5f);
  EXPECT_TRUE(can_dequantize(std::uint32_t(GgmlType::kQ8_0)));
  EXPECT_FALSE(can_dequantize(std::uint32_t(GgmlType::kQ4_K)));
}

}  // namespace
}  // namespace ladle::model
