// Sampler: greedy semantics, filtering masses (top-k / top-p / min-p), seeded reproducibility and
// that draws follow the softmax distribution.
#include "model/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

namespace ladle::model {
namespace {

// Logits whose softmax is exactly `probs` (up to normalisation).
std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(float(std::log(p)));
  return l;
}

TEST(Sampler, GreedyTakesTheFirstMaximum) {
  Sampler s({0.0f}, 1);
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 3.0f}), 1);
  EXPECT_EQ(argmax(std::vector<float>{-5.0f, -7.0f}), 0);
}

// Empirical frequency of each id over n draws.
std::vector<double> frequencies(SamplerConfig cfg, const std::vector<float>& logits, int n, std::uint64_t seed) {
  Sampler s(cfg, seed);
  std::vector<double> f(logits.size());
  for (int i = 0; i < n; ++i) f[s.sample(logits)] += 1.0 / n;
  return f;
}

TEST(Sampler, TemperatureOneFollowsSoftmax) {
  const std::vector<double> p = {0.5, 0.25, 0.15, 0.1};
  const auto f = frequencies({1.0f}, logits_of(p), 40000, 9);
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(f[i], p[i], 0.01) << i;
}

TEST(Sampler, LowTemperatureSharpensHighFlattens) {
  const auto l = logits_of({0.5, 0.3, 0.2});
  EXPECT_GT(frequencies({0.3f}, l, 20000, 1)[0], 0.8);
  EXPECT_LT(frequencies({5.0f}, l, 20000, 1)[0], 0.4);
}

TEST(Sampler, TopKKeepsOnlyTheKMostProbableRenormalised) {
  const std::vector<double> p = {0.1, 0.4, 0.3, 0.2};
  const auto f = frequencies({1.0f, 2}, logits_of(p), 40000, 2);
  EXPECT_EQ(f[0], 0.0);
  EXPECT_EQ(f[3], 0.0);
  EXPECT_NEAR(f[1], 0.4 / 0.7, 0.01);
  EXPECT_NEAR(f[2], 0.3 / 0.7, 0.01);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  const std::vector<double> p = {0.05, 0.5, 0.3, 0.15};
  // 0.5 + 0.3 = 0.8 >= 0.75: ids 1 and 2 remain.
  const auto f = frequencies({1.0f, 0, 0.75f}, logits_of(p), 40000, 3);
  EXPECT_EQ(f[0] + f[3], 0.0);
  EXPECT_NEAR(f[1], 0.5 / 0.8, 0.01);
  // A top_p below the largest probability keeps exactly that token.
  EXPECT_NEAR(frequencies({1.0f, 0, 0.1f}, logits_of(p), 1000, 3)[1], 1.0, 1e-9);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheMax) {
  const std::vector<double> p = {0.4, 0.3, 0.19, 0.11};
  // min_p 0.5: threshold 0.2 keeps ids 0 and 1.
  const auto f = frequencies({1.0f, 0, 1.0f, 0.5f}, logits_of(p), 40000, 4);
  EXPECT_EQ(f[2] + f[3], 0.0);
  EXPECT_NEAR(f[0], 0.4 / 0.7, 0.01);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  std::vector<float> logits(512);
  for (int i = 0; i < 512; ++i) logits[i] = float(std::sin(i * 0.37)) * 2.0f;
  auto run = [&](std::uint64_t seed) {
    Sampler s({0.9f, 40, 0.95f}, seed);
    std::vector<TokenId> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(logits));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
  const auto a = run(42);
  EXPECT_GT(std::set<TokenId>(a.begin(), a.end()).size(), 5u);  // actually random, not stuck
}

TEST(Sampler, UniformIsInUnitInterval) {
  Sampler s({}, 0);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const float u = s.next_uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

}  // namespace
}  // namespace ladle::model
