// ops: RMSNorm, softmax, SwiGLU gate and RoPE against straightforward double-precision references.
#include "model/ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "model/isa.h"
#include "tests/testing/isa_levels.h"
#include "tests/testing/random_values.h"

namespace ladle::model {
namespace {

using ladle::testing::random_vec;

TEST(Ops, RmsNormMatchesReference) {
  auto x = random_vec(288, 1, 3.0f), w = random_vec(288, 2);
  std::vector<float> out(288);
  rmsnorm(out, x, w, 1e-5f);
  double ss = 0;
  for (float v : x) ss += double(v) * v;
  const double inv = 1.0 / std::sqrt(ss / 288 + 1e-5);
  for (int i = 0; i < 288; ++i) EXPECT_NEAR(out[i], w[i] * x[i] * inv, 1e-5);
  rmsnorm(x, x, w, 1e-5f);  // in place
  EXPECT_EQ(x, out);
}

TEST(Ops, SoftmaxMatchesReferenceAndIsStableForLargeInputs) {
  auto x = random_vec(100, 3, 50.0f);
  x[7] = 1000.0f;  // would overflow exp() without max subtraction
  std::vector<double> ref(x.size());
  double mx = *std::max_element(x.begin(), x.end()), sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) sum += ref[i] = std::exp(double(x[i]) - mx);
  softmax(x);
  double total = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(x[i], ref[i] / sum, 1e-6);
    total += x[i];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(Ops, SiluMulMatchesReference) {
  // 173 = 21 whole vectors and a tail of 5; values up to ±30 reach deep into both saturations.
  for (float scale : {6.0f, 30.0f}) {
    auto a = random_vec(173, 4, scale), b = random_vec(173, 5);
    auto want = a;
    for (int i = 0; i < 173; ++i) want[i] = float(a[i] / (1.0 + std::exp(-double(a[i]))) * b[i]);
    silu_mul(a, b);
    for (int i = 0; i < 173; ++i) EXPECT_NEAR(a[i], want[i], 2e-6 * std::max(1.0, std::abs(double(want[i])))) << i;
  }
}

TEST(Ops, SiluMulSaturatesWithoutInfOrNan) {
  std::vector<float> a = {-1e30f, -200.0f, -88.5f, -87.0f, 0.0f, -0.0f, 87.0f, 88.5f, 200.0f, 1e30f};
  std::vector<float> b(a.size(), 1.0f);
  const auto in = a;
  silu_mul(a, b);
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(std::isfinite(a[i])) << in[i];
    if (in[i] >= 87.0f) {
      EXPECT_EQ(a[i], in[i]);  // silu(x) = x once e^-x is below a float's ulp
    }
    if (in[i] <= -87.0f) {
      EXPECT_LE(std::abs(a[i]), 1e-30f * std::max(1.0f, std::abs(in[i])));
    }
  }
  EXPECT_EQ(a[4], 0.0f);
  std::vector<float> nan = {std::nanf("")}, one = {1.0f};
  silu_mul(nan, one);
  EXPECT_TRUE(std::isnan(nan[0]));
}

// At every ISA level this CPU has (tests/testing/isa_levels.h): the portable build's bits.
class OpsAtLevel : public testing::IsaLevelTest {};
LADLE_INSTANTIATE_ISA_LEVELS(OpsAtLevel);

TEST_P(OpsAtLevel, SiluMulIsElementWiseAndTheSameAtEveryLevel) {
  auto a = random_vec(1000, 7, 12.0f), b = random_vec(1000, 8);
  auto vec = a, base = a;
  silu_mul(vec, b);
  {
    const ScopedIsa portable(Isa::kPortable);
    silu_mul(base, b);
  }
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(std::bit_cast<std::uint32_t>(vec[i]), std::bit_cast<std::uint32_t>(base[i])) << i;
  // Any sub-range, at any offset (tail lanes included), gives the same bits as the whole row.
  for (int begin : {0, 3, 8, 13}) {
    for (int len : {1, 5, 8, 11, 64}) {
      std::vector<float> part(a.begin() + begin, a.begin() + begin + len), pb(b.begin() + begin, b.begin() + begin + len);
      silu_mul(part, pb);
      for (int i = 0; i < len; ++i) ASSERT_EQ(part[i], vec[begin + i]) << begin << "+" << i;
    }
  }
}

TEST(Ops, RopeRotatesPairsByPositionTimesFrequency) {
  const int head_dim = 16, heads = 3, pos = 37;
  RopeTable rope(64, head_dim, 10000.0f);
  auto v = random_vec(head_dim * heads, 6);
  auto orig = v;
  rope.apply(v, pos);
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < head_dim; i += 2) {
      const double angle = pos * std::pow(10000.0, -double(i) / head_dim);
      const double x0 = orig[h * head_dim + i], x1 = orig[h * head_dim + i + 1];
      EXPECT_NEAR(v[h * head_dim + i], x0 * std::cos(angle) - x1 * std::sin(angle), 2e-5);
      EXPECT_NEAR(v[h * head_dim + i + 1], x0 * std::sin(angle) + x1 * std::cos(angle), 2e-5);
    }
  auto same = orig;
  rope.apply(same, 0);  // position 0 is the identity
  EXPECT_EQ(same, orig);
}

// qwen2's RoPE (llama.cpp's NEOX, Hugging Face's rotate_half): pair i is (x[i], x[i + d/2]), at
// the same frequencies; Llama 3.1's factors divide each pair's angle, a linear scale multiplies it.
TEST(Ops, RopeOverHalvesWithFactorsAndScale) {
  const int head_dim = 16, heads = 2, pos = 29;
  const std::vector<float> factors = {1, 1, 1, 1.5f, 2, 4, 8, 8};
  RopeTable rope(64, head_dim, 500000.0f, RopeStyle::kHalves, 0.25f, factors);
  auto v = random_vec(head_dim * heads, 7);
  auto orig = v;
  rope.apply(v, pos);
  const int half = head_dim / 2;
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < half; ++i) {
      const double angle = pos * std::pow(500000.0, -2.0 * i / head_dim) / factors[i] * 0.25;
      const double x0 = orig[h * head_dim + i], x1 = orig[h * head_dim + i + half];
      EXPECT_NEAR(v[h * head_dim + i], x0 * std::cos(angle) - x1 * std::sin(angle), 2e-5) << h << " " << i;
      EXPECT_NEAR(v[h * head_dim + i + half], x0 * std::sin(angle) + x1 * std::cos(angle), 2e-5) << h << " " << i;
    }
  // The defaults are exactly the adjacent-pairs table (llama2.c's bits).
  ModelConfig c;
  c.seq_len = 64; c.dim = 64; c.n_heads = 4;
  RopeTable a(c), b(64, 16, 10000.0f);
  auto x = random_vec(64, 8), y = x;
  a.apply(x, 63);
  b.apply(y, 63);
  EXPECT_EQ(x, y);
}

}  // namespace
}  // namespace ladle::model
