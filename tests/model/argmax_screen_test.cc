// ArgmaxScreen: on random classifiers and on rows built to fool the screen (rows that quantize
// alike but differ exactly, exact ties, a row that wins only after quantization), every
// token it decides is the first maximum of matmul's own logits; it declines (returns false) on a
// non-finite input or weight and on flat logits, where the caller computes them in full.
#include "model/argmax_screen.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "model/sampler.h"

namespace ladle::model {
namespace {

struct Classifier {
  int N, K;
  std::vector<float> w;       // [N × K], llama2.c layout
  std::vector<float> panels;  // packed
  PackedMatrix view() const { return {panels.data(), nullptr, N, K}; }
  void pack() {
    panels.assign(packed_elements(N, K), 0.0f);
    pack_rows(w.data(), N, K, 0, panels.data());
  }
};

Classifier random_classifier(int N, int K, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.05f);
  Classifier c{N, K, std::vector<float>(std::size_t(N) * K), {}};
  for (float& v : c.w) v = g(rng);
  c.pack();
  return c;
}

std::vector<float> random_rows(int M, int K, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(std::size_t(M) * K);
  for (float& v : x) v = g(rng);
  return x;
}

// The greedy token of each row the plain way: full logits, then the sampler's argmax.
std::vector<TokenId> full_argmax(const Classifier& c, const std::vector<float>& x, int M) {
  std::vector<float> logits(std::size_t(M) * c.N);
  matmul(x.data(), c.view(), logits.data(), M, nullptr);
  std::vector<TokenId> out;
  for (int m = 0; m < M; ++m) out.push_back(argmax({logits.data() + std::size_t(m) * c.N, std::size_t(c.N)}));
  return out;
}

TEST(ArgmaxScreen, MatchesFullLogitsOnRandomClassifiers) {
  ThreadPool pool(2);
  int decided = 0, trials = 0;
  for (const auto& [N, K] : std::vector<std::pair<int, int>>{{32000, 288}, {5003, 768}, {512, 64}, {300, 96}}) {
    const Classifier c = random_classifier(N, K, unsigned(N + K));
    ArgmaxScreen screen(c.view());
    ASSERT_TRUE(screen.ready());
    for (int M : {1, 3, 8}) {
      const auto x = random_rows(M, K, unsigned(M * 7 + N));
      std::vector<TokenId> got(M, -1);
      ++trials;
      if (!screen.argmax(x.data(), M, got.data(), M == 3 ? nullptr : &pool)) continue;
      ++decided;
      EXPECT_EQ(got, full_argmax(c, x, M)) << "N=" << N << " K=" << K << " M=" << M;
    }
  }
  // Random logits spread far wider than the screen's bound: it decides nearly every time.
  EXPECT_GE(decided, trials - 2);
}

// Half panels: the screen quantizes the widened halves and recomputes candidates from the half
// panels, so its token is the first maximum of matmul's logits on those same panels.
TEST(ArgmaxScreen, MatchesFullLogitsOnHalfClassifiers) {
  ThreadPool pool(2);
  int decided = 0, trials = 0;
  for (const auto& [N, K] : std::vector<std::pair<int, int>>{{32000, 288}, {5003, 768}, {300, 96}}) {
    const Classifier c = random_classifier(N, K, unsigned(3 * N + K));
    std::vector<Half> halves(c.w.size()), panels(packed_elements(N, K), Half{0});
    ASSERT_EQ(floats_to_halves(c.w, halves), c.w.size());
    pack_rows(halves.data(), N, K, 0, panels.data());
    const PackedMatrix view{nullptr, panels.data(), N, K};
    ArgmaxScreen screen(view);
    ASSERT_TRUE(screen.ready());
    for (int M : {1, 4}) {
      const auto x = random_rows(M, K, unsigned(M * 13 + N));
      std::vector<float> logits(std::size_t(M) * N);
      matmul(x.data(), view, logits.data(), M, nullptr);
      std::vector<TokenId> want, got(M, -1);
      for (int m = 0; m < M; ++m) want.push_back(argmax({logits.data() + std::size_t(m) * N, std::size_t(N)}));
      ++trials;
      if (!screen.argmax(x.data(), M, got.data(), &pool)) continue;
      ++decided;
      EXPECT_EQ(got, want) << "N=" << N << " K=" << K << " M=" << M;
    }
  }
  EXPECT_GE(decided, trials - 1);
}

// Copies of the winner's row moved within their quantization steps (same int8 row, same scale, a
// slightly different exact logit), and exact duplicates of it.
TEST(ArgmaxScreen, RowsThatQuantizeAlikeStillGetTheExactWinner) {
  const int N = 4096, K = 288;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> nudge(-0.4f, 0.4f);
  for (int trial = 0; trial < 40; ++trial) {
    Classifier c = random_classifier(N, K, 100 + trial);
    const auto x = random_rows(1, K, 200 + trial);
    const TokenId winner = full_argmax(c, x, 1)[0];
    const float* w = &c.w[std::size_t(winner) * K];
    float max = 0;
    for (int k = 0; k < K; ++k) max = std::max(max, std::fabs(w[k]));
    const float s = max / 127.0f;
    for (int copy = 0; copy < 6; ++copy) {
      const int at = int(rng() % N);
      float* r = &c.w[std::size_t(at) * K];
      std::memcpy(r, w, K * sizeof(float));
      if (copy % 3 == 2) continue;  // an exact duplicate: the lower index must win
      for (int k = 0; k < K; ++k)
        if (std::fabs(w[k]) < max) r[k] = s * (std::nearbyint(w[k] / s) + nudge(rng));
    }
    c.pack();
    ArgmaxScreen screen(c.view());
    std::vector<TokenId> got(1, -1);
    ASSERT_TRUE(screen.argmax(x.data(), 1, got.data(), nullptr)) << "trial " << trial;
    EXPECT_EQ(got, full_argmax(c, x, 1)) << "trial " << trial;
  }
}

// A rival of the winner built to lead after quantization and trail exactly: every weight moved to
// the edge of its quantization step that lowers x·w, and one weight a step up in x's direction.
TEST(ArgmaxScreen, ARowThatLeadsOnlyAfterQuantizationDoesNotWin) {
  const int N = 2048, K = 288;
  int built = 0;
  for (int trial = 0; trial < 20; ++trial) {
    Classifier c = random_classifier(N, K, 300 + trial);
    const auto x = random_rows(1, K, 400 + trial);
    const TokenId winner = full_argmax(c, x, 1)[0];
    const int rival = (winner + 1 + trial) % N;
    const float* w = &c.w[std::size_t(winner) * K];
    float* r = &c.w[std::size_t(rival) * K];
    float max = 0;
    for (int k = 0; k < K; ++k) max = std::max(max, std::fabs(w[k]));
    const float s = max / 127.0f;
    int bump = -1;
    for (int k = 0; k < K; ++k) {
      const float q = std::nearbyint(w[k] / s);
      if (std::fabs(w[k]) == max) {
        r[k] = w[k];  // keeps the row's scale
        continue;
      }
      const float dir = x[k] > 0 ? 1.0f : -1.0f;  // the way that raises x·w
      r[k] = s * (q - 0.45f * dir);
      if (std::fabs(q) < 120 && (bump < 0 || std::fabs(x[k]) > std::fabs(x[bump]))) bump = k;
    }
    const float dir = x[bump] > 0 ? 1.0f : -1.0f;
    r[bump] = s * (std::nearbyint(w[bump] / s) + 0.55f * dir);  // quantizes one step up
    c.pack();
    // Check the construction: the rival leads after quantization and trails exactly.
    std::vector<float> exact(N);
    matmul(x.data(), c.view(), exact.data(), 1, nullptr);
    auto screened = [&](int n) {
      const float* v = &c.w[std::size_t(n) * K];
      float m = 0;
      for (int k = 0; k < K; ++k) m = std::max(m, std::fabs(v[k]));
      double sum = 0;
      for (int k = 0; k < K; ++k) sum += double(x[k]) * std::nearbyint(v[k] / (m / 127.0f));
      return sum * (m / 127.0f);
    };
    if (!(screened(rival) > screened(winner) && exact[rival] < exact[winner] && argmax(exact) == winner)) continue;
    ++built;
    ArgmaxScreen screen(c.view());
    std::vector<TokenId> got(1, -1);
    ASSERT_TRUE(screen.argmax(x.data(), 1, got.data(), nullptr));
    EXPECT_EQ(got[0], winner) << "trial " << trial << ": the quantization's favourite won";
  }
  EXPECT_GE(built, 10);
}

TEST(ArgmaxScreen, DeclinesWhatItCannotDecide) {
  const int N = 1024, K = 64;
  Classifier c = random_classifier(N, K, 5);
  std::vector<TokenId> got(1, -1);
  {
    ArgmaxScreen screen(c.view());
    auto x = random_rows(1, K, 6);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    EXPECT_FALSE(screen.argmax(x.data(), 1, got.data(), nullptr));
    x[3] = std::numeric_limits<float>::infinity();
    EXPECT_FALSE(screen.argmax(x.data(), 1, got.data(), nullptr));
    // x = 0: every logit is 0, a tie of all N; the full product and argmax say 0.
    const std::vector<float> zero(K, 0.0f);
    EXPECT_FALSE(screen.argmax(zero.data(), 1, got.data(), nullptr));
  }
  const auto x = random_rows(1, K, 7);
  for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
    Classifier d = c;
    d.w[17 * K + 5] = bad;
    d.pack();
    ArgmaxScreen screen(d.view());
    EXPECT_FALSE(screen.argmax(x.data(), 1, got.data(), nullptr)) << bad;
  }
  // A row of tiny weights (no scale to quantize it with) is bounded, not mistaken for zero: the
  // only positive logit, it wins.
  Classifier e = c;
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) {
      float& v = e.w[std::size_t(n) * K + k];
      v = n == 40 ? 1e-31f : -std::fabs(v);
    }
  e.pack();
  ArgmaxScreen tiny(e.view());
  std::vector<float> ones(K, 1.0f);
  ASSERT_TRUE(tiny.argmax(ones.data(), 1, got.data(), nullptr));
  EXPECT_EQ(got[0], 40);
  EXPECT_EQ(full_argmax(e, ones, 1)[0], 40);
  EXPECT_FALSE(ArgmaxScreen().argmax(x.data(), 1, got.data(), nullptr));
}

}  // namespace
}  // namespace ladle::model
