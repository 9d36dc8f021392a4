// matmul on a GGUF file's own Q4_K / Q6_K blocks (`--weights native`, model/matmul_ggml.h): every
// output is the sixteen-lane chain of its NOTE(ggml) over exactly the weights ggml_dequantize gives
// (spelled out here on dequantize()'s floats), the same bits at every ISA level the CPU has
// (tests/testing/isa_levels.h), rows bit-identical for every M (batch invariance) pooled or not,
// and close to the double-precision product with those weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model/ggml_dequantize.h"
#include "model/gguf_types.h"
#include "model/half.h"
#include "model/isa.h"
#include "model/matmul.h"
#include "model/matmul_ggml.h"
#include "tests/testing/isa_levels.h"
#include "tests/testing/random_values.h"

namespace ladle::model {
namespace {

class MatmulGgml : public testing::IsaLevelTest {};
LADLE_INSTANTIATE_ISA_LEVELS(MatmulGgml);

using ladle::testing::random_vec;

// N rows of K weights in random blocks of `type` (every byte random but the half scales, which
// are finite: a few zero), owning the bytes.
struct Blocks {
  std::vector<std::byte> bytes;
  PackedMatrix view;
  Blocks(const Blocks&) = delete;
  Blocks(GgmlType type, int N, int K, unsigned seed) : bytes(ggml_matmul_row_bytes(std::uint32_t(type), K) * N) {
    std::mt19937 rng(seed);
    for (auto& b : bytes) b = std::byte(rng() & 0xFF);
    const std::size_t block = type == GgmlType::kQ4_K ? 144 : 210;
    for (std::size_t i = 0; i < bytes.size(); i += block) {
      auto scale = [&] { return (i / block) % 11 == 3 ? Half(0) : float_to_half(std::ldexp(float(rng() % 1000 + 1), -17)); };
      if (type == GgmlType::kQ4_K) {
        const Half d = scale(), dmin = scale();
        std::memcpy(&bytes[i], &d, sizeof d);
        std::memcpy(&bytes[i + 2], &dmin, sizeof dmin);
      } else {
        const Half d = scale();
        std::memcpy(&bytes[i + 208], &d, sizeof d);
      }
    }
    view.N = N;
    view.K = K;
    view.ggml = bytes.data();
    view.ggml_type = std::uint32_t(type);
  }
  // W row-major [N × K] as dequantize() widens it.
  std::vector<float> widened() const {
    std::vector<float> w(std::size_t(view.N) * view.K);
    dequantize(view.ggml_type, bytes.data(), w.data(), w.size());
    return w;
  }
};

struct Shape { int N, K; };
// The 1B shape's K (2048, 8192) and N that leave every tile remainder (1..3 rows past fours).
const Shape kShapes[] = {{1, 256}, {3, 512}, {4, 256}, {5, 768}, {17, 2048}, {64, 256}, {6, 8192}};
const GgmlType kTypes[] = {GgmlType::kQ4_K, GgmlType::kQ6_K};

// The chain spelled out: lane j = fma chain over k ≡ j (mod 16) from 0, lanes added j + 8, + 4,
// + 2, + 1.
std::vector<float> lane_chains(const std::vector<float>& x, const std::vector<float>& w, int M, int N, int K) {
  std::vector<float> y(std::size_t(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      float lane[16] = {};
      for (int k = 0; k < K; ++k)
        lane[k % 16] = std::fma(x[std::size_t(m) * K + k], w[std::size_t(n) * K + k], lane[k % 16]);
      for (int width = 8; width >= 1; width /= 2)
        for (int j = 0; j < width; ++j) lane[j] = lane[j] + lane[j + width];
      y[std::size_t(m) * N + n] = lane[0];
    }
  return y;
}

TEST_P(MatmulGgml, EveryOutputIsTheLaneChainOfTheDequantizedWeights) {
  ThreadPool pool(2);
  for (GgmlType type : kTypes)
    for (const Shape& s : kShapes) {
      const Blocks w(type, s.N, s.K, 7);
      const auto wf = w.widened();
      for (int M : {1, 2, 3, 4, 7}) {
        const auto x = random_vec(std::size_t(M) * s.K, 3);
        std::vector<float> y(std::size_t(M) * s.N);
        matmul(x.data(), w.view, y.data(), M, &pool);
        ASSERT_EQ(y, lane_chains(x, wf, M, s.N, s.K))
            << isa_name(active_isa()) << " " << ggml_type_name(w.view.ggml_type) << " N=" << s.N << " K=" << s.K
            << " M=" << M;
      }
    }
}

TEST_P(MatmulGgml, PortableKernelGivesTheSameBits) {
  if (GetParam() == Isa::kPortable) GTEST_SKIP() << "the portable kernel is the reference here";
  for (GgmlType type : kTypes)
    for (const Shape& s : kShapes) {
      const Blocks w(type, s.N, s.K, 11);
      for (int M : {1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 32}) {
        const auto x = random_vec(std::size_t(M) * s.K, 5);
        std::vector<float> fast(std::size_t(M) * s.N), portable(fast.size());
        matmul(x.data(), w.view, fast.data(), M, nullptr);
        matmul_portable(x.data(), w.view, portable.data(), M);
        ASSERT_EQ(fast, portable) << "kernel " << isa_name(active_isa()) << " " << ggml_type_name(w.view.ggml_type)
                                  << " N=" << s.N << " K=" << s.K << " M=" << M;
      }
    }
}

TEST_P(MatmulGgml, RowsAreBitIdenticalForEveryBatchSize) {
  ThreadPool pool(2);
  const int kMax = 33;
  for (GgmlType type : kTypes)
    for (const Shape s : {Shape{67, 512}, Shape{9, 2048}}) {
      const Blocks w(type, s.N, s.K, 13);
      const auto x = random_vec(std::size_t(kMax) * s.K, 3);
      std::vector<float> single(std::size_t(kMax) * s.N);  // each row alone (M = 1)
      for (int m = 0; m < kMax; ++m)
        matmul(x.data() + std::size_t(m) * s.K, w.view, single.data() + std::size_t(m) * s.N, 1, &pool);
      std::vector<float> y(std::size_t(kMax) * s.N);
      for (int M : {2, 3, 4, 5, 6, 7, 8, 12, 32, 33}) {
        matmul(x.data(), w.view, y.data(), M, (M % 2) ? &pool : nullptr);
        ASSERT_EQ(0, std::memcmp(y.data(), single.data(), std::size_t(M) * s.N * sizeof(float)))
            << isa_name(active_isa()) << " " << ggml_type_name(w.view.ggml_type) << " N=" << s.N << " M=" << M;
      }
      // A range of rows alone (the argmax screen's matmul_panels) gives the same columns.
      std::vector<float> part(std::size_t(2) * s.N, -1.0f);
      matmul_panels(x.data(), w.view, part.data(), 2, 0, 1);
      for (int m = 0; m < 2; ++m)
        for (int n = 0; n < std::min(s.N, kPanel); ++n)
          ASSERT_EQ(part[std::size_t(m) * s.N + n], single[std::size_t(m) * s.N + n]) << "n=" << n;
    }
}

TEST_P(MatmulGgml, CloseToTheDoubleProduct) {
  for (GgmlType type : kTypes)
    for (const Shape& s : kShapes) {
      const int M = 2;
      const Blocks w(type, s.N, s.K, 17);
      const auto wf = w.widened();
      const auto x = random_vec(std::size_t(M) * s.K, 19);
      std::vector<float> y(std::size_t(M) * s.N), ref(y.size());
      matmul(x.data(), w.view, y.data(), M, nullptr);
      matmul_reference(x.data(), wf.data(), ref.data(), M, s.N, s.K);
      for (std::size_t i = 0; i < y.size(); ++i) {
        double bound = 0;  // γ_K · Σ|x·w| with K terms
        const int m = int(i) / s.N, n = int(i) % s.N;
        for (int k = 0; k < s.K; ++k)
          bound += std::fabs(double(x[std::size_t(m) * s.K + k]) * wf[std::size_t(n) * s.K + k]);
        ASSERT_NEAR(y[i], ref[i], bound * s.K * 6e-8 + 1e-30) << ggml_type_name(w.view.ggml_type) << " at " << i;
      }
    }
}

TEST(MatmulGgml, ReadsQ4KAndQ6KOnly) {
  EXPECT_TRUE(matmul_reads_ggml(std::uint32_t(GgmlType::kQ4_K)));
  EXPECT_TRUE(matmul_reads_ggml(std::uint32_t(GgmlType::kQ6_K)));
  for (GgmlType t : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ5_K})
    EXPECT_FALSE(matmul_reads_ggml(std::uint32_t(t))) << ggml_type_name(std::uint32_t(t));
  EXPECT_EQ(ggml_matmul_row_bytes(std::uint32_t(GgmlType::kQ4_K), 2048), 8u * 144);
  EXPECT_EQ(ggml_matmul_row_bytes(std::uint32_t(GgmlType::kQ6_K), 2048), 8u * 210);
}

}  // namespace
}  // namespace ladle::model
