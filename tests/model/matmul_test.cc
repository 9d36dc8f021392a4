// matmul: agrees with the naive reference, and every row is bit-identical for M = 1..64 at the
// model shapes (the batch-invariance contract), for any thread count, on both kernels; with half
// W it gives exactly the bits of the fp32 kernel on the widened W.
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

// ---- half-precision W ------------------------------------------------------------------------

struct HalfW {
  std::vector<Half> half;
  std::vector<float> widened;  // the exact float value of every half
};

HalfW random_half_w(std::size_t n, unsigned seed) {
  const auto w = random_vec(n, seed);
  HalfW out{std::vector<Half>(n), std::vector<float>(n)};
  for (std::size_t i = 0; i < n; ++i) out.half[i] = float_to_half(w[i]);
  // A few subnormal and zero weights too: the widening must be exact for them as well.
  for (std::size_t i = 0; i < n; i += 97) out.half[i] = Half(i % 1024);
  for (std::size_t i = 0; i < n; ++i) out.widened[i] = half_to_float(out.half[i]);
  return out;
}

TEST(MatmulHalf, BitIdenticalToFp32KernelOnWidenedWeights) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes) {
    const HalfW w = random_half_w(std::size_t(s.N) * s.K, 7);
    for (int M : {1, 2, 3, 7, 8, 9, 32, 64}) {
      const auto x = random_vec(std::size_t(M) * s.K, 8);
      for (ThreadPool* p : {&pool, static_cast<ThreadPool*>(nullptr)}) {
        std::vector<float> y16(std::size_t(M) * s.N), y32(y16.size());
        matmul(x.data(), w.half.data(), y16.data(), M, s.N, s.K, p);
        matmul(x.data(), w.widened.data(), y32.data(), M, s.N, s.K, p);
        ASSERT_EQ(0, std::memcmp(y16.data(), y32.data(), y16.size() * sizeof(float)))
            << "N=" << s.N << " K=" << s.K << " M=" << M << (p ? " pooled" : " inline");
      }
    }
  }
}

TEST(MatmulHalf, RowsAreBitIdenticalForEveryBatchSize) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes) {
    const int kMax = 64;
    const HalfW w = random_half_w(std::size_t(s.N) * s.K, 9);
    const auto x = random_vec(std::size_t(kMax) * s.K, 10);
    std::vector<float> single(std::size_t(kMax) * s.N);
    for (int m = 0; m < kMax; ++m)
      matmul(x.data() + std::size_t(m) * s.K, w.half.data(), single.data() + std::size_t(m) * s.N, 1, s.N, s.K, &pool);
    std::vector<float> y(std::size_t(kMax) * s.N);
    for (int M = 1; M <= kMax; ++M) {
      matmul(x.data(), w.half.data(), y.data(), M, s.N, s.K, (M % 2) ? &pool : nullptr);
      ASSERT_EQ(0, std::memcmp(y.data(), single.data(), std::size_t(M) * s.N * sizeof(float)))
          << "N=" << s.N << " K=" << s.K << " M=" << M;
    }
  }
}

TEST(MatmulHalf, PortableKernelGivesTheSameBits) {
  for (const Shape& s : kShapes)
    for (int M : {1, 7, 32}) {
      const HalfW w = random_half_w(std::size_t(s.N) * s.K, 11);
      const auto x = random_vec(std::size_t(M) * s.K, 12);
      std::vector<float> fast(std::size_t(M) * s.N), portable(fast.size()), widened(fast.size());
      matmul(x.data(), w.half.data(), fast.data(), M, s.N, s.K, nullptr);
      matmul_portable(x.data(), w.half.data(), portable.data(), M, s.N, s.K);
      matmul_portable(x.data(), w.widened.data(), widened.data(), M, s.N, s.K);
      EXPECT_EQ(fast, portable) << "kernel " << matmul_kernel_name() << " N=" << s.N << " K=" << s.K << " M=" << M;
      EXPECT_EQ(portable, widened) << "N=" << s.N << " K=" << s.K << " M=" << M;
    }
}

}  // namespace
}  // namespace ladle::model
