// matmul on block-quantized int8 panels (`--weights q8`, model/q8_panels.h): the quantizer gives
// ggml's quantize_row_q8_0_ref numbers, GGUF Q8_0/Q4_0 blocks land in the panels as exactly the
// values ggml_dequantize widens them to, and the kernels compute every output as the block chain
// of matmul.h's NOTE(q8) — with float activations the fma block chain, with int8 activations
// (model/q8_activations.h) x quantized as quantize_row_q8_0_ref and the int32 block sums scaled in
// one fixed float order: the same bits at every ISA level the CPU has (tests/testing/isa_levels.h,
// AVX-512 VNNI where the CPU has it) as the portable kernel, and rows bit-identical for M = 1..64
// (batch invariance), pooled or not.
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
#include "model/q8_activations.h"
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
  PackedMatrix with(Q8Activations a) const {
    PackedMatrix v = view;
    v.q8_activations = a;
    return v;
  }
};

constexpr Q8Activations kModes[] = {Q8Activations::kInt8, Q8Activations::kFloat};

// Column n's q[k] and block scale, read from the layout directly (q8_panels.h).
float layout_q(const std::uint8_t* bytes, int K, int n, int k) {
  const std::uint8_t* block = bytes + std::size_t(n / kPanel) * q8_panel_bytes(K) + std::size_t(k / kQ8Block) * kQ8BlockBytes;
  return float(std::int8_t(block[q8_at(k % kQ8Block, n % kPanel)]));
}
float layout_d(const std::uint8_t* bytes, int K, int n, int k) {
  const int k0 = k / kQ8Block * kQ8Block, kn = std::min(kQ8Block, K - k0);
  const std::uint8_t* block = bytes + std::size_t(n / kPanel) * q8_panel_bytes(K) + std::size_t(k0 / kQ8Block) * kQ8BlockBytes;
  Half dh;
  std::memcpy(&dh, block + std::size_t(q8_block_rows(kn)) * kPanel + std::size_t(n % kPanel) * sizeof(Half), sizeof dh);
  return half_to_float(dh);
}

struct Shape { int N, K; };
// stories15M/110M projections, stories260K's (K = 172: a short last block), K below one block,
// and N that leaves a partial panel or is below one.
const Shape kShapes[] = {{288, 288}, {768, 288}, {288, 768}, {2048, 768}, {768, 2048},
                         {172, 64},  {64, 172},  {61, 37},   {5, 9},     {100, 1}};

bool big(const Shape& s) { return long(s.N) * s.K > 100'000; }

// The block chain spelled out on W's q and d: per block, partial = fma chain over its k, then
// acc = fma(partial, d, acc).
std::vector<float> block_chain(const std::vector<float>& x, const std::uint8_t* bytes, int N, int K, int M) {
  std::vector<float> y(std::size_t(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int k0 = 0; k0 < K; k0 += kQ8Block) {
        float part = 0.0f;
        for (int k = k0; k < std::min(K, k0 + kQ8Block); ++k)
          part = std::fma(x[std::size_t(m) * K + k], layout_q(bytes, K, n, k), part);
        acc = std::fma(part, layout_d(bytes, K, n, k0), acc);
      }
      y[std::size_t(m) * N + n] = acc;
    }
  return y;
}

// The int8 chain spelled out: each block of x quantized as quantize_row_q8_0_ref (amax/127, q =
// roundf(x / d) with the float d, d kept as a half), isum = Σ qx · qw exactly, then
// acc = fma(float(isum), dw · dx, acc).
std::vector<float> int8_chain(const std::vector<float>& x, const std::uint8_t* bytes, int N, int K, int M) {
  std::vector<float> y(std::size_t(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      float acc = 0.0f;
      for (int k0 = 0; k0 < K; k0 += kQ8Block) {
        const int k1 = std::min(K, k0 + kQ8Block);
        float amax = 0.0f;
        for (int k = k0; k < k1; ++k) amax = std::max(amax, std::fabs(x[std::size_t(m) * K + k]));
        const float d = amax / 127, id = d != 0.0f ? 1.0f / d : 0.0f, dx = half_to_float(float_to_half(d));
        long isum = 0;
        for (int k = k0; k < k1; ++k)
          isum += long(std::roundf(x[std::size_t(m) * K + k] * id)) * long(layout_q(bytes, K, n, k));
        acc = std::fma(float(isum), layout_d(bytes, K, n, k0) * dx, acc);
      }
      y[std::size_t(m) * N + n] = acc;
    }
  return y;
}

std::vector<float> chain(Q8Activations a, const std::vector<float>& x, const Q8& w, int M) {
  return a == Q8Activations::kInt8 ? int8_chain(x, w.bytes.data(), w.view.N, w.view.K, M)
                                   : block_chain(x, w.bytes.data(), w.view.N, w.view.K, M);
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
  const int K = 102, N = 19;  // three whole blocks and one of 6 rows (two padding rows)
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
  for (int n = 0; n < N; ++n)  // the padding rows of the short block are zero
    for (int k = K % 32; k < q8_block_rows(K % 32); ++k)
      ASSERT_EQ(packed[std::size_t(n / kPanel) * q8_panel_bytes(K) + 3 * kQ8BlockBytes + q8_at(k, n % kPanel)], 0)
          << "n=" << n << " k=" << k;
}

TEST(Q8Quantize, RefusesWhatAHalfScaleCannotHold) {
  const int K = 64;
  // Two columns (stored column by column) and 18 (a whole panel, gathered and transposed, and two).
  for (int N : {2, 18}) {
    std::vector<float> w(std::size_t(N) * K, 0.5f);
    std::vector<std::uint8_t> packed(q8_packed_bytes(N, K), 0);
    w[std::size_t(1) * K + 40] = 1e7f;  // d = 78740: past the largest half
    EXPECT_EQ(q8_pack_rows(w.data(), N, K, 0, packed.data()), std::size_t(K + 40)) << "N=" << N;
    for (int k = 32; k < K; ++k) ASSERT_EQ(q8_value(packed.data(), K, 1, k), 0.0f) << "N=" << N;  // left zero
    ASSERT_NE(q8_value(packed.data(), K, 1, 31), 0.0f) << "N=" << N;
    w[std::size_t(1) * K + 40] = 0.5f;
    w[3] = NAN;
    w[std::size_t(N - 1) * K + 7] = -INFINITY;
    EXPECT_EQ(q8_pack_rows(w.data(), N, K, 0, packed.data()), 3u) << "N=" << N;
    w[3] = 0.5f;
    EXPECT_EQ(q8_pack_rows(w.data(), N, K, 0, packed.data()), std::size_t(N - 1) * K + 7) << "N=" << N;
    w[std::size_t(N - 1) * K + 7] = 0.5f;
    EXPECT_EQ(q8_pack_rows(w.data(), N, K, 0, packed.data()), std::size_t(N) * K) << "N=" << N;
  }
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
      for (Q8Activations a : kModes) {
        std::vector<float> y(std::size_t(M) * s.N);
        matmul(x.data(), w.with(a), y.data(), M, &pool);
        ASSERT_EQ(y, chain(a, x, w, M)) << isa_name(active_isa()) << " " << q8_activations_name(a) << " N=" << s.N
                                        << " K=" << s.K << " M=" << M;
      }
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
      for (Q8Activations a : kModes) {
        std::vector<float> fast(std::size_t(M) * s.N), portable(fast.size());
        matmul(x.data(), w.with(a), fast.data(), M, nullptr);
        matmul_portable(x.data(), w.with(a), portable.data(), M);
        ASSERT_EQ(fast, portable) << "kernel " << isa_name(active_isa()) << " " << q8_activations_name(a)
                                  << " N=" << s.N << " K=" << s.K << " M=" << M;
      }
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
    for (Q8Activations a : kModes) {
      std::vector<float> single(std::size_t(kMax) * s.N);  // each row alone (M = 1)
      for (int m = 0; m < kMax; ++m)
        matmul(x.data() + std::size_t(m) * s.K, w.with(a), single.data() + std::size_t(m) * s.N, 1, &pool);
      std::vector<float> y(std::size_t(kMax) * s.N);
      for (int M : {2, 3, 4, 5, 6, 7, 12, 13, 32, 63, 64}) {
        matmul(x.data(), w.with(a), y.data(), M, (M % 2) ? &pool : nullptr);
        ASSERT_EQ(0, std::memcmp(y.data(), single.data(), std::size_t(M) * s.N * sizeof(float)))
            << isa_name(active_isa()) << " " << q8_activations_name(a) << " N=" << s.N << " K=" << s.K << " M=" << M;
      }
    }
  }
}

// Quantization error is what it should be: near the product with the unquantized W.
TEST_P(MatmulQ8, CloseToTheUnquantizedProduct) {
  for (const Shape& s : kShapes) {
    const int M = 3;
    const auto x = random_vec(std::size_t(M) * s.K, 8), wf = random_vec(std::size_t(s.N) * s.K, 9);
    const Q8 w(wf, s.N, s.K);
    std::vector<float> ref(std::size_t(M) * s.N);
    matmul_reference(x.data(), wf.data(), ref.data(), M, s.N, s.K);
    for (Q8Activations a : kModes) {
      std::vector<float> y(ref.size());
      matmul(x.data(), w.with(a), y.data(), M, nullptr);
      // Each weight is off by at most d/2 <= 1/254 and |x| <= 1, |w| <= 1; int8 activations add
      // as much again (each x off by at most dx/2 <= 1/254).
      const double bound = (a == Q8Activations::kInt8 ? 2.01 : 1.0) * s.K / 254.0 + 1e-4;
      for (std::size_t i = 0; i < y.size(); ++i)
        ASSERT_NEAR(y[i], ref[i], bound) << q8_activations_name(a) << " N=" << s.N << " K=" << s.K;
    }
  }
}

// GGUF Q8_0 blocks may hold -128 (ggml's quantizer never writes it, other tools may): the int8
// kernels' sign trick (|w| against x · sign(w)) and VNNI's x + 128 keep those products exact.
TEST_P(MatmulQ8, Int8ActivationsTakeEveryWeightByte) {
  const int N = 40, K = 96;
  std::mt19937 rng(11);
  std::vector<std::byte> src(std::size_t(N) * K / 32 * 34);
  for (auto& b : src) b = std::byte(rng() & 0xFF);
  for (std::size_t i = 0; i < src.size(); i += 34) {
    const Half d = float_to_half(std::ldexp(float(1 + rng() % 1000), -14));
    std::memcpy(&src[i], &d, sizeof d);
    src[i + 2 + (i / 34) % 32] = std::byte(0x80);  // -128 in every block
  }
  std::vector<std::uint8_t> bytes(q8_packed_bytes(N, K), 0);
  q8_pack_ggml_rows(std::uint32_t(GgmlType::kQ8_0), src.data(), N, K, 0, bytes.data());
  PackedMatrix view;
  view.N = N;
  view.K = K;
  view.q8 = bytes.data();
  for (int M : {1, 7}) {
    auto x = random_vec(std::size_t(M) * K, 12);
    x[5] = -1.0f;  // the largest magnitude of its block: q = -127
    std::vector<float> y(std::size_t(M) * N);
    matmul(x.data(), view, y.data(), M, nullptr);
    ASSERT_EQ(y, int8_chain(x, bytes.data(), N, K, M)) << isa_name(active_isa()) << " M=" << M;
  }
}

// Activations are quantized as quantize_row_q8_0_ref, zero past K, and a block with a value that
// is not finite gives d = NaN (so its outputs are NaN, as fp32 arithmetic would make them).
TEST(Q8Activations, QuantizedAsGgmlQ8_0Ref) {
  const int K = 40;  // one whole block and a short one
  std::vector<float> x(std::size_t(2) * K, 0.0f);
  x[0] = 127.0f, x[1] = -2.5f, x[2] = 2.5f, x[3] = 0.49f, x[4] = -126.6f;
  const auto r = random_vec(std::size_t(K), 31, 0.05f);
  std::copy(r.begin(), r.end(), x.begin() + K);
  x[K + 35] = INFINITY;
  Q8Rows q;
  quantize_activations(x.data(), 2, K, q);
  ASSERT_EQ(q.blocks, 2);
  EXPECT_EQ(q.row_d(0)[0], 1.0f);
  const std::int8_t want[] = {127, -3, 3, 0, -127};
  for (int j = 0; j < 5; ++j) EXPECT_EQ(q.row_q(0)[j], want[j]) << j;
  EXPECT_EQ(q.row_d(0)[1], 0.0f);  // a block of zeros
  for (int j = K - 32; j < 32; ++j) EXPECT_EQ(q.row_q(0)[32 + j], 0) << "past K";
  float amax = 0;
  for (int k = 0; k < 32; ++k) amax = std::max(amax, std::fabs(x[std::size_t(K) + k]));
  const float d = amax / 127;
  EXPECT_EQ(q.row_d(1)[0], half_to_float(float_to_half(d)));
  for (int k = 0; k < 32; ++k) EXPECT_EQ(q.row_q(1)[k], std::int8_t(std::roundf(x[std::size_t(K) + k] * (1.0f / d)))) << k;
  EXPECT_TRUE(std::isnan(q.row_d(1)[1]));
  EXPECT_EQ(parse_q8_activations("int8").value(), Q8Activations::kInt8);
  EXPECT_EQ(parse_q8_activations("float").value(), Q8Activations::kFloat);
  for (const char* bad : {"", "INT8", "f32", "q8"}) {
    const auto p = parse_q8_activations(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.error().message.find("int8 or float"), std::string::npos) << p.error().message;
  }
}

}  // namespace
}  // namespace ladle::model
