// ArgmaxScreen: on random classifiers and on rows built to fool the screen (logits that differ
// only in the bits the screen drops, exact ties, a row that wins only after truncation), every
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

// Rows made to differ from the winner only below the screen's 16 bits, so the screened logits
// cannot tell them apart (or rank them the wrong way round), and exact duplicates of it.
TEST(ArgmaxScreen, RowsThatDifferOnlyInDroppedBitsStillGetTheExactWinner) {
  const int N = 4096, K = 288;
  std::mt19937 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    Classifier c = random_classifier(N, K, 100 + trial);
    const auto x = random_rows(1, K, 200 + trial);
    const TokenId winner = full_argmax(c, x, 1)[0];
    // Copies of the winner's row at other places, each with some low bits of some weights
    // changed: their upper halves equal the winner's, their exact logits differ slightly.
    for (int copy = 0; copy < 6; ++copy) {
      const int at = int(rng() % N);
      std::memcpy(&c.w[std::size_t(at) * K], &c.w[std::size_t(winner) * K], K * sizeof(float));
      if (copy % 3 == 2) continue;  // an exact duplicate: the lower index must win
      for (int k = 0; k < K; k += 1 + int(rng() % 5)) {
        std::uint32_t u;
        std::memcpy(&u, &c.w[std::size_t(at) * K + k], 4);
        u ^= rng() & 0xffffu;
        std::memcpy(&c.w[std::size_t(at) * K + k], &u, 4);
      }
    }
    c.pack();
    ArgmaxScreen screen(c.view());
    std::vector<TokenId> got(1, -1);
    ASSERT_TRUE(screen.argmax(x.data(), 1, got.data(), nullptr)) << "trial " << trial;
    EXPECT_EQ(got, full_argmax(c, x, 1)) << "trial " << trial;
  }
}

// A rival of the winner built to lead after truncation and trail exactly: its low bits push its
// exact logit down, and one upper half is one step larger in x's direction.
TEST(ArgmaxScreen, ARowThatLeadsOnlyAfterTruncationDoesNotWin) {
  const int N = 2048, K = 288;
  int built = 0;
  for (int trial = 0; trial < 20; ++trial) {
    Classifier c = random_classifier(N, K, 300 + trial);
    const auto x = random_rows(1, K, 400 + trial);
    const TokenId winner = full_argmax(c, x, 1)[0];
    const int rival = (winner + 1 + trial) % N;
    float* r = &c.w[std::size_t(rival) * K];
    std::memcpy(r, &c.w[std::size_t(winner) * K], K * sizeof(float));
    int bump = 0;
    for (int k = 0; k < K; ++k) {
      std::uint32_t u;
      std::memcpy(&u, &r[k], 4);
      // Low bits that lower x_k·r_k: all zero where that product is positive, all one elsewhere.
      u = (u & 0xffff0000u) | ((x[k] * r[k] > 0) ? 0u : 0xffffu);
      std::memcpy(&r[k], &u, 4);
      if (std::fabs(x[k] * r[k]) > std::fabs(x[bump] * r[bump])) bump = k;
    }
    std::uint32_t u;
    std::memcpy(&u, &r[bump], 4);
    u = ((x[bump] * r[bump] > 0) ? u + 0x10000u : u - 0x10000u) & 0xffff0000u;  // one upper step up in x·r
    std::memcpy(&r[bump], &u, 4);
    c.pack();
    // Check the construction: the rival leads after truncation and trails exactly.
    std::vector<float> exact(N), approx(N);
    matmul(x.data(), c.view(), exact.data(), 1, nullptr);
    std::vector<Bf16> upper(c.panels.size());
    for (std::size_t i = 0; i < upper.size(); ++i) upper[i] = float_upper_half(c.panels[i]);
    matmul(x.data(), PackedMatrix{nullptr, nullptr, N, K, upper.data()}, approx.data(), 1, nullptr);
    if (!(approx[rival] > approx[winner] && exact[rival] < exact[winner] && argmax(approx) == rival &&
          argmax(exact) == winner))
      continue;
    ++built;
    ArgmaxScreen screen(c.view());
    std::vector<TokenId> got(1, -1);
    ASSERT_TRUE(screen.argmax(x.data(), 1, got.data(), nullptr));
    EXPECT_EQ(got[0], winner) << "trial " << trial << ": the truncation's favourite won";
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
  c.w[17 * K + 5] = std::numeric_limits<float>::infinity();
  c.pack();
  ArgmaxScreen screen(c.view());
  const auto x = random_rows(1, K, 7);
  EXPECT_FALSE(screen.argmax(x.data(), 1, got.data(), nullptr));
  EXPECT_FALSE(ArgmaxScreen().argmax(x.data(), 1, got.data(), nullptr));
}

}  // namespace
}  // namespace ladle::model
