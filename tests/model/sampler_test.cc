// Sampler: greedy semantics, filtering masses (top-k / top-p / min-p), seeded reproducibility and
// that draws follow the softmax distribution.
#include "model/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
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

TEST(Sampler, ExpIsAccurateOverTheSoftmaxRange) {
  for (double x = -87.0; x <= 0.0; x += 0.0137) {
    const double want = std::exp(double(float(x)));  // the argument as the sampler sees it
    EXPECT_NEAR(sampler_exp(float(x)) / want, 1.0, 4e-7) << x;
  }
  EXPECT_EQ(sampler_exp(0.0f), 1.0f);
  EXPECT_EQ(sampler_exp(-200.0f), 0.0f);
  EXPECT_EQ(sampler_exp(-INFINITY), 0.0f);
}

TEST(Sampler, VectorisedSoftmaxEqualsPortableBitwise) {
  for (std::size_t n : {1u, 7u, 8u, 9u, 100u, 32000u}) {
    std::vector<float> logits(n);
    for (std::size_t i = 0; i < n; ++i) logits[i] = float(std::sin(i * 0.71) * 30.0 - (i % 13));
    const float mx = *std::max_element(logits.begin(), logits.end());
    std::vector<float> a(n), b(n);
    const float sa = softmax_numerators(logits, mx, 1.0f / 0.7f, a.data(), false);
    const float sb = softmax_numerators(logits, mx, 1.0f / 0.7f, b.data(), true);
    EXPECT_EQ(sa, sb) << n;
    EXPECT_EQ(a, b) << n;
  }
}

TEST(Sampler, ArgmaxFindsTheFirstMaximumInLongRows) {
  std::vector<float> logits(32000);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = float(std::sin(i * 0.37));
  logits[20001] = 5.0f;
  logits[31999] = 5.0f;
  EXPECT_EQ(argmax(logits), 20001);
  logits[3] = 5.0f;
  EXPECT_EQ(argmax(logits), 3);
}

// The candidate pre-filter must keep exactly the set a full sort would: compare with a direct
// implementation of the definition on a large vocabulary, many draws.
TEST(Sampler, FilteredDrawsStayInsideTheNucleus) {
  const std::size_t n = 4096;
  std::vector<float> logits(n);
  for (std::size_t i = 0; i < n; ++i) logits[i] = float(std::sin(i * 1.3) * 4.0);
  std::vector<double> p(n);
  double z = 0;
  for (std::size_t i = 0; i < n; ++i) z += p[i] = std::exp(double(logits[i]));
  std::vector<std::size_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = i;
  std::sort(ids.begin(), ids.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
  std::set<std::size_t> nucleus;
  double mass = 0;
  for (std::size_t id : ids) {
    nucleus.insert(id);
    if ((mass += p[id] / z) >= 0.5) break;
  }
  Sampler s({1.0f, 0, 0.5f}, 11);
  std::set<std::size_t> seen;
  for (int i = 0; i < 5000; ++i) seen.insert(std::size_t(s.sample(logits)));
  for (std::size_t id : seen) EXPECT_TRUE(nucleus.count(id)) << id;
  EXPECT_GT(seen.size(), nucleus.size() / 2);
}

TEST(Sampler, TinyTopPOnTwoTokensKeepsTheMostProbable) {
  Sampler s({1.0f, 0, 0.1f}, 5);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(std::vector<float>{0.0f, 0.5f}), 1);
}

}  // namespace
}  // namespace ladle::model
