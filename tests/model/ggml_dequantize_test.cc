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
  EXPECT_FALSE(can_dequantize(std::uint32_t(GgmlType::kQ2_K)));
}

// Every value below is spelled out from ggml-common.h's block layout, not derived from the code
// under test: a scale or min that lands on the wrong element, or a nibble or high bit read from the
// wrong place, changes an expected value.

TEST(GgmlDequantize, Q4_1AddsTheMinToEachNibble) {
  std::vector<std::byte> b;
  put<Half>(b, 0x3800);  // d = 0.5
  put<Half>(b, 0xBC00);  // m = -1
  for (int j = 0; j < 16; ++j) put<std::uint8_t>(b, std::uint8_t(j | ((15 - j) << 4)));
  const auto x = widen(GgmlType::kQ4_1, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(x[std::size_t(j)], float(j) * 0.5f - 1.0f) << j;
    EXPECT_EQ(x[std::size_t(j) + 16], float(15 - j) * 0.5f - 1.0f) << j;
  }
  EXPECT_EQ(x[0], -1.0f);
  EXPECT_EQ(x[16], 6.5f);
  EXPECT_EQ(widen(GgmlType::kQ4_1, b, 32, 1), x);
}

TEST(GgmlDequantize, Q5_0TakesTheFifthBitFromQh) {
  std::vector<std::byte> b;
  put<Half>(b, 0x4000);                  // d = 2
  put<std::uint32_t>(b, 0x8001'0003u);   // fifth bits of elements 0, 1, 16 and 31
  for (int j = 0; j < 16; ++j) put<std::uint8_t>(b, std::uint8_t(0x50 | (j & 15)));  // low j, high 5
  const auto x = widen(GgmlType::kQ5_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    const int hi0 = (j == 0 || j == 1) ? 16 : 0, hi1 = (j == 0 || j == 15) ? 16 : 0;
    EXPECT_EQ(x[std::size_t(j)], float(j + hi0 - 16) * 2.0f) << j;
    EXPECT_EQ(x[std::size_t(j) + 16], float(5 + hi1 - 16) * 2.0f) << j;
  }
  EXPECT_EQ(x[1], 2.0f);    // (1 + 16 - 16) * 2
  EXPECT_EQ(x[2], -28.0f);  // (2 - 16) * 2
  EXPECT_EQ(x[31], 10.0f);  // (5 + 16 - 16) * 2
  EXPECT_EQ(widen(GgmlType::kQ5_0, b, 32, 3), x);
}

TEST(GgmlDequantize, Q5_1IsUnsignedPlusTheMin) {
  std::vector<std::byte> b;
  put<Half>(b, 0x3400);  // d = 0.25
  put<Half>(b, 0x4200);  // m = 3
  put<std::uint32_t>(b, 0x0001'8000u);  // fifth bits of elements 15 and 16
  for (int j = 0; j < 16; ++j) put<std::uint8_t>(b, std::uint8_t(0xF0 | (15 - j)));
  const auto x = widen(GgmlType::kQ5_1, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(x[std::size_t(j)], float(15 - j + (j == 15 ? 16 : 0)) * 0.25f + 3.0f) << j;
    EXPECT_EQ(x[std::size_t(j) + 16], float(15 + (j == 0 ? 16 : 0)) * 0.25f + 3.0f) << j;
  }
  EXPECT_EQ(x[15], 7.0f);   // 16 * 0.25 + 3
  EXPECT_EQ(x[16], 10.75f);  // 31 * 0.25 + 3
  EXPECT_EQ(widen(GgmlType::kQ5_1, b, 32, 1), x);
}

// The twelve scale bytes of a Q4_K / Q5_K super-block holding 6-bit (scale, min) pairs `sm`:
// sub-blocks 0..3 in the low six bits of bytes 0..3 (scales) and 4..7 (mins); 4..7 in the low
// (scale) and high (min) nibbles of bytes 8..11, their top two bits in the top bits of bytes 0..3
// (scale) and 4..7 (min).
std::vector<std::uint8_t> pack_k4_scales(const std::vector<std::pair<int, int>>& sm) {
  std::vector<std::uint8_t> s(12, 0);
  for (int i = 0; i < 4; ++i) {
    s[std::size_t(i)] = std::uint8_t(sm[std::size_t(i)].first | ((sm[std::size_t(i) + 4].first >> 4) << 6));
    s[std::size_t(i) + 4] = std::uint8_t(sm[std::size_t(i)].second | ((sm[std::size_t(i) + 4].second >> 4) << 6));
    s[std::size_t(i) + 8] = std::uint8_t((sm[std::size_t(i) + 4].first & 15) | ((sm[std::size_t(i) + 4].second & 15) << 4));
  }
  return s;
}

// (scale, min) of the eight sub-blocks: small ones, and ones above 15 whose top bits go elsewhere.
const std::vector<std::pair<int, int>> kScaleMins = {{1, 0}, {2, 3}, {63, 1}, {7, 40}, {17, 5}, {33, 63}, {48, 0}, {5, 21}};

TEST(GgmlDequantize, Q4_KUnpacksSixBitScalesAndMins) {
  std::vector<std::byte> b;
  put<Half>(b, 0x3800);  // d = 0.5
  put<Half>(b, 0x3400);  // dmin = 0.25
  for (std::uint8_t v : pack_k4_scales(kScaleMins)) put(b, v);
  // qs: 4 groups of 32 bytes; byte l of group g holds element 64g + l (low) and 64g + 32 + l (high).
  auto q_of = [](int e) { return (e * 7 + 3) % 16; };
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) put<std::uint8_t>(b, std::uint8_t(q_of(64 * g + l) | (q_of(64 * g + 32 + l) << 4)));
  ASSERT_EQ(b.size(), 144u);
  const auto x = widen(GgmlType::kQ4_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const auto [sc, mn] = kScaleMins[std::size_t(e / 32)];
    EXPECT_EQ(x[std::size_t(e)], (0.5f * float(sc)) * float(q_of(e)) - 0.25f * float(mn)) << e;
  }
  EXPECT_EQ(x[0], 1.5f);            // q 3, scale 0.5 * 1, min 0
  EXPECT_EQ(x[160], 0.5f * 33 * float(q_of(160)) - 15.75f);  // sub-block 5: scale 33, min 63
  EXPECT_EQ(widen(GgmlType::kQ4_K, b, 256, 2), x);
}

TEST(GgmlDequantize, Q5_KTakesBitsOfQhPerSubBlock) {
  std::vector<std::byte> b;
  put<Half>(b, 0x3C00);  // d = 1
  put<Half>(b, 0x4000);  // dmin = 2
  for (std::uint8_t v : pack_k4_scales(kScaleMins)) put(b, v);
  // qh[l]: bit k is the fifth bit of element 32k + l. Give it to element e when (e * 5) % 3 == 0.
  auto hi_of = [](int e) { return (e * 5) % 3 == 0 ? 16 : 0; };
  auto q_of = [](int e) { return (e * 11 + 1) % 16; };
  for (int l = 0; l < 32; ++l) {
    int h = 0;
    for (int k = 0; k < 8; ++k) h |= (hi_of(32 * k + l) ? 1 : 0) << k;
    put<std::uint8_t>(b, std::uint8_t(h));
  }
  for (int g = 0; g < 4; ++g)
    for (int l = 0; l < 32; ++l) put<std::uint8_t>(b, std::uint8_t(q_of(64 * g + l) | (q_of(64 * g + 32 + l) << 4)));
  ASSERT_EQ(b.size(), 176u);
  const auto x = widen(GgmlType::kQ5_K, b, 256);
  for (int e = 0; e < 256; ++e) {
    const auto [sc, mn] = kScaleMins[std::size_t(e / 32)];
    EXPECT_EQ(x[std::size_t(e)], float(sc) * float(q_of(e) + hi_of(e)) - 2.0f * float(mn)) << e;
  }
  EXPECT_EQ(x[0], 17.0f);  // q 1 + 16, scale 1, min 0
  EXPECT_EQ(widen(GgmlType::kQ5_K, b, 256, 1), x);
}

TEST(GgmlDequantize, Q6_KInterleavesFourQuartersPerHalf) {
  // Six-bit q of element e and the signed scale of its sixteen.
  auto q_of = [](int e) { return (e * 13 + 5) % 64; };
  auto scale_of = [](int s) { return (s % 3 == 0) ? -(s * 8 + 1) : s * 8 - 1; };  // -1, 7, ..., -121, 127
  std::vector<std::uint8_t> ql(128, 0), qh(64, 0);
  // Half h, element 128h + 32k + l (k < 4): its low nibble is in ql[64h + l + 32 (k % 2)] (low
  // nibble for k < 2, high for k >= 2), its top two bits in bits 2k..2k+1 of qh[32h + l].
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) {
        const int q = q_of(128 * h + 32 * k + l);
        ql[std::size_t(64 * h + l + 32 * (k % 2))] |= std::uint8_t((q & 15) << (k < 2 ? 0 : 4));
        qh[std::size_t(32 * h + l)] |= std::uint8_t((q >> 4) << (2 * k));
      }
  std::vector<std::byte> b;
  for (std::uint8_t v : ql) put(b, v);
  for (std::uint8_t v : qh) put(b, v);
  for (int s = 0; s < 16; ++s) put<std::int8_t>(b, std::int8_t(scale_of(s)));
  put<Half>(b, 0x2E66);  // d = 0.0999755859375: products of three factors round
  ASSERT_EQ(b.size(), 210u);
  const float d = half_to_float(0x2E66);
  const auto x = widen(GgmlType::kQ6_K, b, 256);
  for (int e = 0; e < 256; ++e)
    EXPECT_EQ(x[std::size_t(e)], d * float(scale_of(e / 16)) * float(q_of(e) - 32)) << e;
  EXPECT_EQ(x[0], d * -1.0f * float(5 - 32));
  EXPECT_EQ(widen(GgmlType::kQ6_K, b, 256, 1), x);
}

}  // namespace
}  // namespace ladle::model
