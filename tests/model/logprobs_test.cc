// log_sum_exp and top_tokens against plain references: a double-precision log-sum-exp with
// std::exp, and a full stable sort of the row; stable on rows far from 0, the same bits in the
// AVX2 and the portable build, ties broken by lower id, the first entry the first maximum.
#include "model/logprobs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "model/sampler.h"

namespace ladle::model {
namespace {

double reference_log_sum_exp(const std::vector<float>& l) {
  double m = -INFINITY;
  for (float v : l) m = std::max(m, double(v));
  double s = 0;
  for (float v : l) s += std::exp(double(v) - m);
  return m + std::log(s);
}

std::vector<TokenId> reference_top(const std::vector<float>& l, int n) {
  std::vector<TokenId> ids(l.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](TokenId a, TokenId b) { return l[a] > l[b]; });
  ids.resize(std::min<std::size_t>(ids.size(), std::size_t(n)));
  return ids;
}

std::vector<float> random_row(std::mt19937& rng, std::size_t n, float offset, float spread) {
  std::normal_distribution<float> d(offset, spread);
  std::vector<float> l(n);
  for (float& v : l) v = d(rng);
  return l;
}

TEST(LogSumExp, MatchesDoubleReference) {
  std::mt19937 rng(1);
  for (std::size_t n : {1u, 7u, 8u, 9u, 63u, 512u, 32000u, 32003u})
    for (float spread : {0.1f, 3.0f, 20.0f}) {
      const auto l = random_row(rng, n, 0, spread);
      const double want = reference_log_sum_exp(l);
      EXPECT_NEAR(log_sum_exp(l), want, 1e-6 * std::max(1.0, std::fabs(want))) << n << " " << spread;
    }
}

// Logits around ±1000 overflow or underflow a plain Σ e^l in float and in double; the
// max-subtracted sum does not.
TEST(LogSumExp, StableFarFromZero) {
  std::mt19937 rng(2);
  for (float offset : {1000.0f, -1000.0f, 80000.0f}) {
    const auto l = random_row(rng, 32000, offset, 2.0f);
    const double got = log_sum_exp(l);
    ASSERT_TRUE(std::isfinite(got)) << offset;
    EXPECT_NEAR(got, reference_log_sum_exp(l), 1e-9 * std::fabs(offset) + 1e-6) << offset;
  }
  // One dominant logit: its log-probability is ~0, everything else far below.
  std::vector<float> l(1000, -50.0f);
  l[17] = 50.0f;
  EXPECT_NEAR(double(l[17]) - log_sum_exp(l), 0.0, 1e-9);
  EXPECT_EQ(log_sum_exp(std::span<const float>()), -std::numeric_limits<double>::infinity());
}

TEST(LogSumExp, SameBitsPortableAndVectorised) {
  std::mt19937 rng(3);
  for (std::size_t n : {5u, 64u, 32000u, 32005u}) {
    const auto l = random_row(rng, n, 1.5f, 4.0f);
    EXPECT_EQ(log_sum_exp(l, false), log_sum_exp(l, true)) << n;
  }
}

TEST(TopTokens, MatchesFullSort) {
  std::mt19937 rng(4);
  for (std::size_t size : {3u, 64u, 100u, 32000u})
    for (int n : {1, 2, 5, 20}) {
      const auto l = random_row(rng, size, 0, 5.0f);
      std::vector<TokenId> got(std::size_t(n), -1);
      const int k = top_tokens(l, n, got.data());
      got.resize(std::size_t(k));
      EXPECT_EQ(got, reference_top(l, n)) << size << " " << n;
      EXPECT_EQ(got[0], argmax(l));
    }
}

// Many equal logits (a quantised row, and a flat one): lower ids first among equals, and the
// first entry is argmax's first maximum.
TEST(TopTokens, TiesGoToLowerIds) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> level(0, 6);
  std::vector<float> l(32000);
  for (float& v : l) v = float(level(rng)) * 0.5f;
  std::vector<TokenId> got(20);
  ASSERT_EQ(top_tokens(l, 20, got.data()), 20);
  EXPECT_EQ(got, reference_top(l, 20));
  EXPECT_EQ(got[0], argmax(l));
  std::vector<float> flat(1000, 1.25f);
  ASSERT_EQ(top_tokens(flat, 4, got.data()), 4);
  EXPECT_EQ(std::vector<TokenId>(got.begin(), got.begin() + 4), (std::vector<TokenId>{0, 1, 2, 3}));
  // The maximum last, and only once.
  flat.back() = 2.0f;
  ASSERT_EQ(top_tokens(flat, 3, got.data()), 3);
  EXPECT_EQ(std::vector<TokenId>(got.begin(), got.begin() + 3), (std::vector<TokenId>{999, 0, 1}));
}

TEST(TopTokens, ShortRowsAndNaN) {
  std::vector<TokenId> got(20, -1);
  const std::vector<float> two = {0.5f, 1.5f};
  EXPECT_EQ(top_tokens(two, 20, got.data()), 2);
  EXPECT_EQ(got[0], 1);
  EXPECT_EQ(got[1], 0);
  EXPECT_EQ(top_tokens(two, 0, got.data()), 0);
  // A NaN ranks after every number, -inf included.
  std::vector<float> l(200, -INFINITY);
  l[0] = std::nanf("");
  l[150] = 3.0f;
  ASSERT_EQ(top_tokens(l, 3, got.data()), 3);
  EXPECT_EQ(got[0], 150);
  EXPECT_EQ(got[1], 1);
  EXPECT_EQ(got[2], 2);
}

}  // namespace
}  // namespace ladle::model
