// half: IEEE binary16 conversions — exact widening of all 65536 halves, round-to-nearest-even
// narrowing at every boundary (ties, largest finite, subnormals, overflow), and the bulk F16C
// path giving the scalar code's bits.
#include "model/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace ladle::model {
namespace {

std::uint32_t bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

float from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// The value of a finite half from its fields, computed independently of half_to_float.
double half_value(Half h) {
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  const double mag = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return (h & 0x8000) ? -mag : mag;
}

TEST(Half, WidensEveryHalfExactly) {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(Half(h));
    const int e = (h >> 10) & 0x1f;
    if (e == 0x1f && (h & 0x3ff) != 0) {
      EXPECT_TRUE(std::isnan(f)) << h;
      continue;
    }
    if (e == 0x1f) {
      EXPECT_EQ(f, (h & 0x8000) ? -INFINITY : INFINITY) << h;
    } else {
      EXPECT_EQ(double(f), half_value(Half(h))) << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    }
    EXPECT_EQ(float_to_half(f), Half(h)) << "round trip " << h;
  }
}

TEST(Half, NarrowsToNearestEven) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(0.0f), 0x0000);
  EXPECT_EQ(float_to_half(-0.0f), 0x8000);
  // Ties between 1 and its neighbours (ulp 2^-10) go to the even significand.
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
  // Top of the range: 65504 is the largest half; 65520 (the tie with 65536) rounds to infinity.
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(std::nextafter(65520.0f, 0.0f)), 0x7bff);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);
  EXPECT_EQ(float_to_half(-1e9f), 0xfc00);
  EXPECT_EQ(float_to_half(INFINITY), 0x7c00);
  EXPECT_EQ(float_to_half(NAN) & 0x7e00, 0x7e00);
  // Bottom: subnormals in units of 2^-24; 2^-25 is a tie and goes to 0, anything above to 2^-24.
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: tie, to even 2
  EXPECT_EQ(float_to_half(std::ldexp(5.0f, -25)), 0x0002);  // 2.5 units: tie, to even 2
  EXPECT_EQ(float_to_half(std::ldexp(1023.5f, -24)), 0x0400);  // carries into the smallest normal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400);
  EXPECT_EQ(float_to_half(1e-30f), 0x0000);
}

// Nearest-even against a brute-force search over the two neighbouring halves, for a sweep of
// float bit patterns across the whole finite half range.
TEST(Half, NarrowingPicksTheNearestHalf) {
  for (std::uint32_t b = 0x33000000; b < 0x477ff000; b += 4099) {  // (2^-25, 65520)
    const float f = from_bits(b);
    const Half h = float_to_half(f);
    ASSERT_LT(h, 0x7c00) << f;
    const double err = std::fabs(half_value(h) - f);
    for (const Half n : {Half(h - 1), Half(h + 1)}) {
      if (n >= 0x7c00) continue;
      const double other = std::fabs(half_value(n) - f);
      ASSERT_TRUE(err < other || (err == other && (h & 1) == 0)) << f << " -> " << h << " vs " << n;
    }
  }
}

TEST(Half, BulkConversionsGiveTheScalarBits) {
  std::vector<float> in;
  for (std::uint64_t b = 0; b < 0x100000000ull; b += 65521) in.push_back(from_bits(std::uint32_t(b)));
  in.push_back(65519.0f);
  in.push_back(-65520.0f);
  std::vector<Half> out(in.size());
  floats_to_halves(in, out);
  for (std::size_t i = 0; i < in.size(); ++i)
    ASSERT_EQ(out[i], float_to_half(in[i])) << "f16c " << half_uses_f16c() << " bits " << bits(in[i]);

  std::vector<Half> all(0x10000);
  for (std::uint32_t h = 0; h < 0x10000; ++h) all[h] = Half(h);
  std::vector<float> wide(all.size());
  halves_to_floats(all, wide);
  for (std::uint32_t h = 0; h < 0x10000; ++h) ASSERT_EQ(bits(wide[h]), bits(half_to_float(Half(h)))) << h;
}

TEST(Half, BulkNarrowingReportsTheFirstValueOutOfRange) {
  std::vector<float> in(37, 0.5f);
  std::vector<Half> out(in.size());
  EXPECT_EQ(floats_to_halves(in, out), in.size());
  in[21] = 70000.0f;
  in[30] = NAN;
  EXPECT_EQ(floats_to_halves(in, out), 21u);
  EXPECT_EQ(out[36], 0x3800);  // converted all the same
  in[21] = 1.0f;
  EXPECT_EQ(floats_to_halves(in, out), 30u);
  in[30] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(floats_to_halves(in, out), 30u);
  in[30] = 2.0f;
  in[35] = 65520.0f;  // in the scalar tail after the last full group of eight
  EXPECT_EQ(floats_to_halves(in, out), 35u);
}

}  // namespace
}  // namespace ladle::model
