// ops: RMSNorm, softmax, SwiGLU gate and RoPE against straightforward double-precision references.
#include "model/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace ladle::model {
namespace {

std::vector<float> random_vec(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

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
  auto a = random_vec(64, 4, 6.0f), b = random_vec(64, 5);
  auto want = a;
  for (int i = 0; i < 64; ++i) want[i] = float(a[i] / (1.0 + std::exp(-double(a[i]))) * b[i]);
  silu_mul(a, b);
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(a[i], want[i], 1e-5);
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

}  // namespace
}  // namespace ladle::model
