// matmul: agrees with the naive reference, computes every output as the one fma chain over k that
// matmul.h promises, and every row is bit-identical for M = 1..64 at the model shapes (the
// batch-invariance contract), for any thread count; with half W it gives exactly the bits of the
// fp32 kernel on the widened W, and likewise with int8 W. Every test runs at every ISA level the
// CPU has (portable, AVX2, AVX-512; tests/testing/isa_levels.h), and each level gives the portable
// kernel's bits. Panels packed in pieces equal panels packed whole.
#include "model/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <type_traits>
#include <vector>

#include "model/isa.h"
#include "tests/testing/isa_levels.h"
#include "tests/testing/random_values.h"

namespace ladle::model {
namespace {

class Matmul : public testing::IsaLevelTest {};
class MatmulHalf : public testing::IsaLevelTest {};
class MatmulInt8 : public testing::IsaLevelTest {};
LADLE_INSTANTIATE_ISA_LEVELS(Matmul);
LADLE_INSTANTIATE_ISA_LEVELS(MatmulHalf);
LADLE_INSTANTIATE_ISA_LEVELS(MatmulInt8);

// Row counts that exercise every register tile and remainder of every kernel (AVX2: 6-row tiles;
// AVX-512: 12-row tiles; half W widened per group from 48 rows), all of them on the small shapes
// and a few on the model's large ones (the portable kernel, the reference, is a libm fma call
// per multiply-add: slow).
std::vector<int> many_ms(int N, int K) {
  if (long(N) * K > 100'000) return {1, 13, 49};  // one row; whole tiles + 1; half W widened
  return {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49, 64, 130};
}
// Shapes whose batch-invariance sweep (M = 1..64) is left out at the portable level, where it
// would take minutes: that kernel has no register tiles, each row is computed by the same loop.
bool too_slow_for_portable(int N, int K) { return active_isa() == Isa::kPortable && long(N) * K > 100'000; }

using ladle::testing::random_vec;

// W [N × K] in llama2.c's layout, packed into matmul's panels (owning the storage).
template <class T>
struct Packed {
  std::vector<T> panels;
  PackedMatrix view;
  Packed(const Packed&) = delete;  // view points into panels
  Packed(const std::vector<T>& w, int N, int K) : panels(packed_elements(N, K)) {
    pack_rows(w.data(), N, K, 0, panels.data());
    if constexpr (std::is_same_v<T, Half>) view = {nullptr, panels.data(), N, K};
    else view = {panels.data(), nullptr, N, K};
  }
};

struct Shape { int N, K; };
// stories15M/110M projections, stories260K's FFN, and N that leaves a partial panel or is below one.
const Shape kShapes[] = {{288, 288}, {768, 288}, {288, 768}, {2048, 768}, {768, 2048},
                         {172, 64},  {64, 172},  {61, 37},   {5, 9},     {100, 1}};

TEST_P(Matmul, MatchesNaiveReference) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes)
    for (int M : {1, 2, 3, 5, 17}) {
      auto x = random_vec(std::size_t(M) * s.K, 1), w = random_vec(std::size_t(s.N) * s.K, 2);
      std::vector<float> y(std::size_t(M) * s.N), ref(y.size());
      matmul(x.data(), Packed<float>(w, s.N, s.K).view, y.data(), M, &pool);
      matmul_reference(x.data(), w.data(), ref.data(), M, s.N, s.K);
      for (std::size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], 1e-4f * std::sqrt(float(s.K))) << "N=" << s.N << " K=" << s.K << " M=" << M;
    }
}

TEST_P(Matmul, RowsAreBitIdenticalForEveryBatchSize) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes) {
    if (too_slow_for_portable(s.N, s.K)) continue;
    const int kMax = 64;
    auto x = random_vec(std::size_t(kMax) * s.K, 3);
    const Packed<float> w(random_vec(std::size_t(s.N) * s.K, 4), s.N, s.K);
    std::vector<float> single(std::size_t(kMax) * s.N);  // each row computed alone (M = 1)
    for (int m = 0; m < kMax; ++m)
      matmul(x.data() + std::size_t(m) * s.K, w.view, single.data() + std::size_t(m) * s.N, 1, &pool);
    std::vector<float> y(std::size_t(kMax) * s.N);
    for (int M = 1; M <= kMax; ++M) {
      matmul(x.data(), w.view, y.data(), M, (M % 2) ? &pool : nullptr);
      ASSERT_EQ(0, std::memcmp(y.data(), single.data(), std::size_t(M) * s.N * sizeof(float)))
          << "N=" << s.N << " K=" << s.K << " M=" << M;
    }
  }
}

TEST_P(Matmul, PortableKernelGivesTheSameBits) {
  if (GetParam() == Isa::kPortable) GTEST_SKIP() << "the portable kernel is the reference here";
  for (const Shape& s : kShapes)
    for (int M : many_ms(s.N, s.K)) {
      auto x = random_vec(std::size_t(M) * s.K, 5);
      const Packed<float> w(random_vec(std::size_t(s.N) * s.K, 6), s.N, s.K);
      std::vector<float> fast(std::size_t(M) * s.N), portable(fast.size());
      matmul(x.data(), w.view, fast.data(), M, nullptr);
      matmul_portable(x.data(), w.view, portable.data(), M);
      EXPECT_EQ(fast, portable) << "kernel " << isa_name(active_isa()) << " N=" << s.N << " K=" << s.K << " M=" << M;
    }
}

// The contract itself, spelled out on W in llama2.c's layout: y = fma(x[K-1], w[K-1], ...
// fma(x[0], w[0], 0)). Any other order (lanes, blocks, a tree) differs in the last bits here.
TEST_P(Matmul, EveryOutputIsOneFmaChainInKOrder) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes)
    for (int M : {1, 2, 6, 13}) {
      auto x = random_vec(std::size_t(M) * s.K, 13), w = random_vec(std::size_t(s.N) * s.K, 14);
      std::vector<float> y(std::size_t(M) * s.N), chain(y.size());
      for (int m = 0; m < M; ++m)
        for (int n = 0; n < s.N; ++n) {
          float acc = 0.0f;
          for (int k = 0; k < s.K; ++k) acc = std::fma(x[std::size_t(m) * s.K + k], w[std::size_t(n) * s.K + k], acc);
          chain[std::size_t(m) * s.N + n] = acc;
        }
      matmul(x.data(), Packed<float>(w, s.N, s.K).view, y.data(), M, &pool);
      ASSERT_EQ(y, chain) << "N=" << s.N << " K=" << s.K << " M=" << M;
    }
}

// Stacked matrices ([wq; wk; wv]) packed piece by piece at their column offsets give the panels of
// the stacked matrix packed at once.
TEST(MatmulPacking, PackingInPiecesEqualsPackingTheStack) {
  const int K = 37, rows[] = {20, 7, 16};  // offsets 0, 20, 27: mid-panel boundaries
  const auto stack = random_vec(std::size_t(43) * K, 15);
  std::vector<float> whole(packed_elements(43, K)), pieces(whole.size());
  pack_rows(stack.data(), 43, K, 0, whole.data());
  int n0 = 0;
  for (int r : rows) {
    pack_rows(stack.data() + std::size_t(n0) * K, r, K, n0, pieces.data());
    n0 += r;
  }
  EXPECT_EQ(whole, pieces);
  // And panel p's row k holds W[16p + c][k].
  EXPECT_EQ(whole[std::size_t(2) * K * kPanel + 5 * kPanel + 3], stack[std::size_t(35) * K + 5]);
  EXPECT_EQ(whole[std::size_t(2) * K * kPanel + 5 * kPanel + 11], 0.0f);  // column 43: padding
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

TEST_P(MatmulHalf, BitIdenticalToFp32KernelOnWidenedWeights) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes) {
    const HalfW w = random_half_w(std::size_t(s.N) * s.K, 7);
    const Packed<Half> w16(w.half, s.N, s.K);
    const Packed<float> w32(w.widened, s.N, s.K);
    for (int M : {1, 2, 3, 7, 8, 9, 32, 47, 48, 64, 130}) {  // 48+: half panels widened per group
      if (M > 9 && too_slow_for_portable(s.N, s.K)) continue;
      const auto x = random_vec(std::size_t(M) * s.K, 8);
      for (ThreadPool* p : {&pool, static_cast<ThreadPool*>(nullptr)}) {
        std::vector<float> y16(std::size_t(M) * s.N), y32(y16.size());
        matmul(x.data(), w16.view, y16.data(), M, p);
        matmul(x.data(), w32.view, y32.data(), M, p);
        ASSERT_EQ(0, std::memcmp(y16.data(), y32.data(), y16.size() * sizeof(float)))
            << "N=" << s.N << " K=" << s.K << " M=" << M << (p ? " pooled" : " inline");
      }
    }
  }
}

// int8 panels (the argmax screen's) widen exactly too: the same bits as the fp32 kernel on the
// integers as floats, pooled or not, and on the portable kernel.
TEST_P(MatmulInt8, BitIdenticalToFp32KernelOnTheIntegersAsFloats) {
  ThreadPool pool(2);
  std::mt19937 rng(17);
  for (const Shape& s : kShapes) {
    std::vector<std::int8_t> q(std::size_t(s.N) * s.K);
    for (auto& v : q) v = std::int8_t(int(rng() % 255) - 127);
    const std::vector<float> as_float(q.begin(), q.end());
    const Packed<float> w32(as_float, s.N, s.K);
    std::vector<std::int8_t> q_panels(packed_elements(s.N, s.K), 0);
    for (std::size_t i = 0; i < q_panels.size(); ++i) q_panels[i] = std::int8_t(w32.panels[i]);
    PackedMatrix view{nullptr, nullptr, s.N, s.K, q_panels.data()};
    for (int M : many_ms(s.N, s.K)) {
      if (M > 13 && too_slow_for_portable(s.N, s.K)) continue;
      const auto x = random_vec(std::size_t(M) * s.K, 18);
      std::vector<float> y8(std::size_t(M) * s.N), y32(y8.size()), portable(y8.size());
      for (ThreadPool* p : {&pool, static_cast<ThreadPool*>(nullptr)}) {
        matmul(x.data(), view, y8.data(), M, p);
        matmul(x.data(), w32.view, y32.data(), M, p);
        ASSERT_EQ(0, std::memcmp(y8.data(), y32.data(), y8.size() * sizeof(float)))
            << "N=" << s.N << " K=" << s.K << " M=" << M << (p ? " pooled" : " inline");
      }
      matmul_portable(x.data(), view, portable.data(), M);
      ASSERT_EQ(portable, y32) << "N=" << s.N << " K=" << s.K << " M=" << M;
      // matmul_panels on one panel writes exactly that panel's columns of the full product.
      std::vector<float> part(y32.size(), 0.0f);
      const int last = (s.N - 1) / kPanel;
      matmul_panels(x.data(), w32.view, part.data(), M, last, last + 1);
      for (int m = 0; m < M; ++m)
        for (int n = last * kPanel; n < s.N; ++n)
          ASSERT_EQ(part[std::size_t(m) * s.N + n], y32[std::size_t(m) * s.N + n]);
    }
  }
}

TEST_P(MatmulHalf, RowsAreBitIdenticalForEveryBatchSize) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes) {
    if (too_slow_for_portable(s.N, s.K)) continue;
    const int kMax = 64;
    const Packed<Half> w(random_half_w(std::size_t(s.N) * s.K, 9).half, s.N, s.K);
    const auto x = random_vec(std::size_t(kMax) * s.K, 10);
    std::vector<float> single(std::size_t(kMax) * s.N);
    for (int m = 0; m < kMax; ++m)
      matmul(x.data() + std::size_t(m) * s.K, w.view, single.data() + std::size_t(m) * s.N, 1, &pool);
    std::vector<float> y(std::size_t(kMax) * s.N);
    for (int M = 1; M <= kMax; ++M) {
      matmul(x.data(), w.view, y.data(), M, (M % 2) ? &pool : nullptr);
      ASSERT_EQ(0, std::memcmp(y.data(), single.data(), std::size_t(M) * s.N * sizeof(float)))
          << "N=" << s.N << " K=" << s.K << " M=" << M;
    }
  }
}

TEST_P(MatmulHalf, PortableKernelGivesTheSameBits) {
  if (GetParam() == Isa::kPortable) GTEST_SKIP() << "the portable kernel is the reference here";
  for (const Shape& s : kShapes)
    for (int M : many_ms(s.N, s.K)) {
      // (The portable kernel on half W equals it on the widened fp32 W: BitIdenticalToFp32KernelOn-
      // WidenedWeights at the portable level.)
      const Packed<Half> w16(random_half_w(std::size_t(s.N) * s.K, 11).half, s.N, s.K);
      const auto x = random_vec(std::size_t(M) * s.K, 12);
      std::vector<float> fast(std::size_t(M) * s.N), portable(fast.size());
      matmul(x.data(), w16.view, fast.data(), M, nullptr);
      matmul_portable(x.data(), w16.view, portable.data(), M);
      EXPECT_EQ(fast, portable) << "kernel " << isa_name(active_isa()) << " N=" << s.N << " K=" << s.K << " M=" << M;
    }
}

}  // namespace
}  // namespace ladle::model
