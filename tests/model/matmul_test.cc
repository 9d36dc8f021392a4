// matmul: agrees with the naive reference, and every row is bit-identical for M = 1..64 at the
// model shapes (the batch-invariance contract), for any thread count, on both kernels.
#include "model/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace ladle::model {
namespace {

std::vector<float> random_vec(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

struct Shape { int N, K; };
// stories15M/110M projections, a ragged FFN (K % 8 != 0), and odd N.
const Shape kShapes[] = {{288, 288}, {768, 288}, {288, 768}, {2048, 768}, {768, 2048}, {172, 64}, {64, 172}, {61, 37}};

TEST(Matmul, MatchesNaiveReference) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes)
    for (int M : {1, 2, 3, 5, 17}) {
      auto x = random_vec(std::size_t(M) * s.K, 1), w = random_vec(std::size_t(s.N) * s.K, 2);
      std::vector<float> y(std::size_t(M) * s.N), ref(y.size());
      matmul(x.data(), w.data(), y.data(), M, s.N, s.K, &pool);
      matmul_reference(x.data(), w.data(), ref.data(), M, s.N, s.K);
      for (std::size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], 1e-4f * std::sqrt(float(s.K))) << "N=" << s.N << " K=" << s.K << " M=" << M;
    }
}

TEST(Matmul, RowsAreBitIdenticalForEveryBatchSize) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes) {
    const int kMax = 64;
    auto x = random_vec(std::size_t(kMax) * s.K, 3), w = random_vec(std::size_t(s.N) * s.K, 4);
    std::vector<float> single(std::size_t(kMax) * s.N);  // each row computed alone (M = 1)
    for (int m = 0; m < kMax; ++m)
      matmul(x.data() + std::size_t(m) * s.K, w.data(), single.data() + std::size_t(m) * s.N, 1, s.N, s.K, &pool);
    std::vector<float> y(std::size_t(kMax) * s.N);
    for (int M = 1; M <= kMax; ++M) {
      matmul(x.data(), w.data(), y.data(), M, s.N, s.K, (M % 2) ? &pool : nullptr);
      ASSERT_EQ(0, std::memcmp(y.data(), single.data(), std::size_t(M) * s.N * sizeof(float)))
          << "N=" << s.N << " K=" << s.K << " M=" << M;
    }
  }
}

TEST(Matmul, PortableKernelGivesTheSameBits) {
  for (const Shape& s : kShapes) {
    const int M = 7;
    auto x = random_vec(std::size_t(M) * s.K, 5), w = random_vec(std::size_t(s.N) * s.K, 6);
    std::vector<float> fast(std::size_t(M) * s.N), portable(fast.size());
    matmul(x.data(), w.data(), fast.data(), M, s.N, s.K, nullptr);
    matmul_portable(x.data(), w.data(), portable.data(), M, s.N, s.K);
    EXPECT_EQ(fast, portable) << "kernel " << matmul_kernel_name() << " N=" << s.N << " K=" << s.K;
  }
}

}  // namespace
}  // namespace ladle::model
