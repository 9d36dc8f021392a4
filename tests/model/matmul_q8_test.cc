// matmul on block-quantized int8 panels (`--weights q8`, model/q8_panels.h): the quantizer gives
// ggml's quantize_row_q8_0_ref numbers, GGUF Q8_0/Q4_0 blocks land in the panels as exactly the
// values ggml_dequantize widens them to, and the kernels compute every output as the block chain
// of matmul.h's NOTE(q8): the same bits at every ISA level the CPU has (tests/testing/isa_levels.h)
// as the portable kernel, and rows bit-identical for M = 1..64 (batch invariance), pooled or not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "model/ggml_dequantize.h"
#include "model/gguf_types.h"
#include "model/isa.h"
#include "model/matmul.h"
#include "model/q8_panels.h"
#include "tests/testing/isa_levels.h"
#include "tests/testing/random_values.h"

namespace ladle::model {
namespace {

class MatmulQ8 : public testing::IsaLevelTest {};
LADLE_INSTANTIATE_ISA_LEVELS(MatmulQ8);

using ladle::testing::random_vec;

// W [N × K] quantized into q8 panels (owning the storage).
struct Q8 {
  std::vector<std::uint8_t> bytes;
  PackedMatrix view;
  Q8(const Q8&) = delete;
  Q8(const std::vector<float>& w, int N, int K) : bytes(q8_packed_bytes(N, K), 0) {
    EXPECT_EQ(q8_pack_rows(w.data(), N, K, 0, bytes.data()), std::size_t(N) * K);
    view.N = N;
    view.K = K;
    view.q8 = bytes.data();
  }
};

struct Shape { int N, K; };
// stories15M/110M projections, stories260K's (K = 172: a short last block), K below one block,
// and N that leaves a partial panel or is below one.
const Shape kShapes[] = {{288, 288}, {768, 288}, {288, 768}, {2048, 768}, {768, 2048},
                         {172, 64},  {64, 172},  {61, 37},   {5, 9},     {100, 1}};

bool big(const Shape& s) { return long(s.N) * s.K > 100'000; }

// The block chain spelled out on W's q and d: per block, partial = fma chain over its k, then
// acc = fma(partial, d, acc).
std::vector<float> block_chain(const std::vector<float>& x, const Q8& w, int M) {
  const int N = w.view.N, K = w.view.K;
  std::vector<float> y(std::size_t(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int k0 = 0; k0 < K; k0 += kQ8Block) {
        float part = 0.0f, scale = 0.0f;
        for (int k = k0; k < std::min(K, k0 + kQ8Block); ++k) {
          // q and d read from the layout directly (q8_panels.h).
          const std::size_t panel = std::size_t(n / kPanel) * q8_panel_bytes(K);
          const int kn = std::min(kQ8Block, K - k0);
          const std::uint8_t* block = w.bytes.data() + panel + std::size_t(k0 / kQ8Block) * kQ8BlockBytes;
          const auto q = float(std::int8_t(block[std::size_t(k - k0) * kPanel + n % kPanel]));
          Half dh;
          std::memcpy(&dh, block + std::size_t(kn) * kPanel + std::size_t(n % kPanel) * sizeof(Half), sizeof dh);
          scale = half_to_float(dh);
          part = std::fma(x[std::size_t(m) * K + k], q, part);
        }
        acc = std::fma(part, scale, acc);
      }
      y[std::size_t(m) * N + n] = acc;
    }
  return y;
}

TEST(Q8Quantize, GivesGgmlQ8_0Numbers) {
  // One block whose largest magnitude is 127: d = 1, q = roundf(x) (halves away from zero).
  std::vector<float> w(32, 0.0f);
  w[0] = 127.0f, w[1] = -2.5f, w[2] = 2.5f, w[3] = 0.49f, w[4] = -126.6f;
  std::vector<std::uint8_t> bytes(q8_packed_bytes(1, 32), 0);
  ASSERT_EQ(q8_pack_rows(w.data(), 1, 32, 0, bytes.data()), 32u);
  EXPECT_EQ(q8_value(bytes.data(), 32, 0, 0), 127.0f);
  EXPECT_EQ(q8_value(bytes.data(), 32, 0, 1), -3.0f);
  EXPECT_EQ(q8_value(bytes.data(), 32, 0, 2), 3.0f);
  EXPECT_EQ(q8_value(bytes.data(), 32, 0, 3), 0.0f);
  EXPECT_EQ(q8_value(bytes.data(), 32, 0, 4), -127.0f);
  // Random rows: d is the half of amax/127, q = roundf(x · (1/d)) with the float d (ggml's id).
  // 19 rows: one whole panel (gathered and transposed) and three columns of the next.
  const int K = 100, N = 19;  // three whole blocks and a short one
  const auto r = random_vec(std::size_t(N) * K, 21, 0.05f);
  std::vector<std::uint8_t> packed(q8_packed_bytes(N, K), 0);
  ASSERT_EQ(q8_pack_rows(r.data(), N, K, 0, packed.data()), std::size_t(N) * K);
  for (int n = 0; n < N; ++n)
    for (int k0 = 0; k0 < K; k0 += 32) {
      const int kn = std::min(32, K - k0);
      float amax = 0;
      for (int k = k0; k < k0 + kn; ++k) amax = std::max(amax, std::fabs(r[std::size_t(n) * K + k]));
      const float d = amax / 127, id = 1.0f / d, dh = half_to_float(float_to_half(d));
      for (int k = k0; k < k0 + kn; ++k)
        ASSERT_EQ(q8_value(packed.data(), K, n, k), std::roundf(r[std::size_t(n) * K + k] * id) * dh)
            << "n=" << n << " k=" << k;
    }
}

TEST(Q8Quantize, RefusesWhatAHalfScaleCannotHold) {
  const int K = 64;
  std::vector<float> w(std::size_t(2) * K, 0.5f);
  std::vector<std::uint8_t> packed(q8_packed_bytes(2, K), 0);
  w[std::size_t(1) * K + 40] = 1e7f;  // d = 78740: past the largest half
  EXPECT_EQ(q8_pack_rows(w.data(), 2, K, 0, packed.data()), std::size_t(K + 40));
  w[std::size_t(1) * K + 40] = 0.5f;
  w[3] = NAN;
  EXPECT_EQ(q8_pack_rows(w.data(), 2, K, 0, packed.data()), 3u);
  w[3] = 0.5f;
  EXPECT_EQ(q8_pack_rows(w.data(), 2, K, 0, packed.data()), std::size_t(2) * K);
}

// GGUF blocks copied into the panels hold the values ggml_dequantize widens them to.
TEST(Q8Quantize, GgmlBlocksLandAsTheirDequantizedValues) {
  const int K = 96;
  std::mt19937 rng(5);
  // Columns 5..23 (parts of two panels, stored column by column) and 16..55 (two whole panels,
  // gathered and transposed, and half of a third).
  for (const auto& [n0, rows] : {std::pair{5, 19}, std::pair{16, 40}})
  for (GgmlType type : {GgmlType::kQ8_0, GgmlType::kQ4_0}) {
    const std::size_t block = type == GgmlType::kQ8_0 ? 34 : 18;
    std::vector<std::byte> src(std::size_t(rows) * K / 32 * block);
    for (auto& b : src) b = std::byte(rng() & 0xFF);
    for (std::size_t i = 0; i < src.size(); i += block) {  // finite scales, a few zero or subnormal
      const Half d = (i / block) % 7 == 0 ? Half(i % 5) : float_to_half(std::ldexp(float(rng() % 1000), -16));
      std::memcpy(&src[i], &d, sizeof d);
    }
    std::vector<float> want(std::size_t(rows) * K);
    dequantize(std::uint32_t(type), src.data(), want.data(), want.size());
    std::vector<std::uint8_t> packed(q8_packed_bytes(rows + n0, K), 0);
    q8_pack_ggml_rows(std::uint32_t(type), src.data(), rows, K, n0, packed.data());  // at a column offset
    for (int r = 0; r < rows; ++r)
      for (int k = 0; k < K; ++k)
        ASSERT_EQ(q8_value(packed.data(), K, n0 + r, k), want[std::size_t(r) * K + k])
            << ggml_type_name(std::uint32_t(type)) << " row " << r << " k " << k << " n0 " << n0;
    for (int n = 0; n < n0; ++n)  // the columns before n0 stay untouched (zero)
      for (int k = 0; k < K; ++k) ASSERT_EQ(q8_value(packed.data(), K, n, k), 0.0f) << "column " << n;
  }
}

TEST_P(MatmulQ8, EveryOutputIsTheBlockChain) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes) {
    const Q8 w(random_vec(std::size_t(s.N) * s.K, 2), s.N, s.K);
    for (int M : {1, 2, 7, 13}) {
      if (M > 2 && big(s)) continue;
      const auto x = random_vec(std::size_t(M) * s.K, 3);
      std::vector<float> y(std::size_t(M) * s.N);
      matmul(x.data(), w.view, y.data(), M, &pool);
      ASSERT_EQ(y, block_chain(x, w, M)) << isa_name(active_isa()) << " N=" << s.N << " K=" << s.K << " M=" << M;
    }
  }
}

TEST_P(MatmulQ8, PortableKernelGivesTheSameBits) {
  if (GetParam() == Isa::kPortable) GTEST_SKIP() << "the portable kernel is the reference here";
  for (const Shape& s : kShapes) {
    const Q8 w(random_vec(std::size_t(s.N) * s.K, 6), s.N, s.K);
    const std::vector<int> ms = big(s) ? std::vector<int>{1, 13, 49}
                                       : std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 17, 31, 64, 130};
    for (int M : ms) {
      const auto x = random_vec(std::size_t(M) * s.K, 5);
      std::vector<float> fast(std::size_t(M) * s.N), portable(fast.size());
      matmul(x.data(), w.view, fast.data(), M, nullptr);
      matmul_portable(x.data(), w.view, portable.data(), M);
      ASSERT_EQ(fast, portable) << "kernel " << isa_name(active_isa()) << " N=" << s.N << " K=" << s.K << " M=" << M;
    }
  }
}

TEST_P(MatmulQ8, RowsAreBitIdenticalForEveryBatchSize) {
  ThreadPool pool(2);
  for (const Shape& s : kShapes) {
    if (active_isa() == Isa::kPortable && big(s)) continue;  // minutes of libm fma calls
    const int kMax = 64;
    const auto x = random_vec(std::size_t(kMax) * s.K, 3);
    const Q8 w(random_vec(std::size_t(s.N) * s.K, 4), s.N, s.K);
    std::vector<float> single(std::size_t(kMax) * s.N);  // each row alone (M = 1)
    for (int m = 0; m < kMax; ++m)
      matmul(x.data() + std::size_t(m) * s.K, w.view, single.data() + std::size_t(m) * s.N, 1, &pool);
    std::vector<float> y(std::size_t(kMax) * s.N);
    for (int M : {2, 5, 6, 7, 12, 13, 32, 63, 64}) {
      matmul(x.data(), w.view, y.data(), M, (M % 2) ? &pool : nullptr);
      ASSERT_EQ(0, std::memcmp(y.data(), single.data(), std::size_t(M) * s.N * sizeof(float)))
          << isa_name(active_isa()) << " N=" << s.N << " K=" << s.K << " M=" << M;
    }
  }
}

// Quantization error is what it should be: near the product with the unquantized W.
TEST_P(MatmulQ8, CloseToTheUnquantizedProduct) {
  for (const Shape& s : kShapes) {
    const int M = 3;
    const auto x = random_vec(std::size_t(M) * s.K, 8), wf = random_vec(std::size_t(s.N) * s.K, 9);
    const Q8 w(wf, s.N, s.K);
    std::vector<float> y(std::size_t(M) * s.N), ref(y.size());
    matmul(x.data(), w.view, y.data(), M, nullptr);
    matmul_reference(x.data(), wf.data(), ref.data(), M, s.N, s.K);
    // Each weight is off by at most d/2 <= 1/254; |x| <= 1.
    for (std::size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], s.K / 254.0 + 1e-4) << "N=" << s.N << " K=" << s.K;
  }
}

}  // namespace
}  // namespace ladle::model
