// matmul on a GGUF file's own Q4_K / Q6_K numbers in panels (`--weights native`,
// model/matmul_ggml.h, model/ggml_panels.h): x is quantized to Q8_K as ggml's
// quantize_row_q8_K_ref does, every output is the integer sums and the float combination of its
// NOTE(ggml) (spelled out here from ggml's row-major block layouts, independently of the panels
// and the kernels), the same bits at every ISA level the CPU has (tests/testing/isa_levels.h),
// rows bit-identical for every M (batch invariance) pooled or not, and close to the
// double-precision product of x with the weights dequantize() gives.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "model/ggml_dequantize.h"
#include "model/ggml_panels.h"
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
// are finite: a few zero), owning the file's bytes and their panels (packed 16 rows at a time,
// as model/weights.cc packs pieces of a matrix).
struct Blocks {
  std::vector<std::byte> bytes, panels;
  PackedMatrix view;
  Blocks(const Blocks&) = delete;
  Blocks(GgmlType type, int N, int K, unsigned seed)
      : bytes(std::size_t(K / 256) * (type == GgmlType::kQ4_K ? 144 : 210) * N),
        panels(ggml_panels_bytes(std::uint32_t(type), N, K)) {
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
    const std::size_t row = bytes.size() / N;
    for (int n0 = 0; n0 < N; n0 += 16)
      pack_ggml_panels(std::uint32_t(type), bytes.data() + n0 * row, std::min(16, N - n0), K, n0, panels.data());
    view.N = N;
    view.K = K;
    view.ggml = panels.data();
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
// The 1B shape's K (2048, 8192), whole and partial panels (N past a multiple of 16 by 1..15).
const Shape kShapes[] = {{1, 256}, {3, 512}, {16, 256}, {21, 768}, {33, 2048}, {64, 256}, {6, 8192}, {47, 512}};
const GgmlType kTypes[] = {GgmlType::kQ4_K, GgmlType::kQ6_K};

// ggml's get_scale_min_k4.
void scale_min_k4(int j, const std::uint8_t* q, int& d, int& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

// The NOTE's sums, spelled out from ggml's layouts (dequantize_row_q4_K / _q6_K's loops) on the
// Q8_K numbers quantize_q8k gives.
std::vector<float> q8k_reference(const std::vector<float>& x, const Blocks& w, int M) {
  const int N = w.view.N, K = w.view.K, blocks = K / 256;
  std::vector<std::int8_t> q(std::size_t(M) * K);
  std::vector<float> d(std::size_t(M) * blocks);
  std::vector<std::int16_t> bsum(std::size_t(M) * K / 16);
  quantize_q8k(x.data(), M, K, q.data(), d.data(), bsum.data());
  const bool q4 = w.view.ggml_type == std::uint32_t(GgmlType::kQ4_K);
  const std::size_t block = q4 ? 144 : 210;
  std::vector<float> y(std::size_t(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      float f = 0;
      for (int sb = 0; sb < blocks; ++sb) {
        const auto* b = reinterpret_cast<const std::uint8_t*>(w.bytes.data()) + (std::size_t(n) * blocks + sb) * block;
        const std::int8_t* xq = q.data() + (std::size_t(m) * blocks + sb) * 256;
        int wq[256];  // the unsigned 4- or 6-bit values in order
        int scale[16], mins[8] = {};
        Half dh, dminh;
        if (q4) {
          std::memcpy(&dh, b, 2);
          std::memcpy(&dminh, b + 2, 2);
          for (int j = 0; j < 64; j += 16) {  // as dequantize_row_q4_K: 64 weights per 32 bytes
            for (int l = 0; l < 32; ++l) wq[4 * j + l] = b[16 + 2 * j + l] & 0xF;
            for (int l = 0; l < 32; ++l) wq[4 * j + 32 + l] = b[16 + 2 * j + l] >> 4;
          }
          for (int s8 = 0; s8 < 8; ++s8) scale_min_k4(s8, b + 4, scale[s8], mins[s8]);
        } else {
          std::memcpy(&dh, b + 208, 2);
          for (int h = 0; h < 2; ++h)
            for (int l = 0; l < 32; ++l) {
              const std::uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
              wq[128 * h + l] = (ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4);
              wq[128 * h + l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
              wq[128 * h + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
              wq[128 * h + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
            }
          for (int g = 0; g < 16; ++g) scale[g] = std::int8_t(b[192 + g]);
        }
        const float d8 = d[std::size_t(m) * blocks + sb];
        const std::int16_t* bs = bsum.data() + (std::size_t(m) * blocks + sb) * 16;
        int t = 0, u = 0;  // the NOTE's T and U
        for (int g = 0; g < 16; ++g) {  // groups of 16 weights
          int dot = 0;
          for (int e = 16 * g; e < 16 * g + 16; ++e) dot += wq[e] * xq[e];
          t += (q4 ? scale[g / 2] : scale[g]) * dot;
          u += (q4 ? mins[g / 2] : scale[g]) * bs[g];
        }
        if (q4) f = f + ((half_to_float(dh) * d8) * float(t) - (half_to_float(dminh) * d8) * float(u));
        else f = f + (half_to_float(dh) * d8) * float(t - 32 * u);
      }
      y[std::size_t(m) * N + n] = f;
    }
  return y;
}

TEST(Q8K, QuantizesAsGgmlQuantizeRowQ8KRef) {
  std::vector<float> x(512, 0.0f);
  x[3] = -2.0f;  // the largest magnitude, negative: d = -2 / -127... = 2/127 with q = -127 there
  x[4] = 1.0f, x[5] = 2.0f / 127 * 10.5f, x[6] = 2.0f / 127 * 11.5f;  // halves round to even
  // The second block: all zero.
  std::vector<std::int8_t> q(512);
  std::vector<float> d(2);
  std::vector<std::int16_t> bsum(32);
  quantize_q8k(x.data(), 1, 512, q.data(), d.data(), bsum.data());
  const float iscale = -127.f / -2.0f;
  EXPECT_EQ(d[0], 1 / iscale);
  EXPECT_EQ(q[3], -127);
  EXPECT_EQ(q[4], std::int8_t(std::nearbyint(iscale * 1.0f)));
  EXPECT_EQ(q[5], std::int8_t(std::nearbyint(iscale * x[5])));
  EXPECT_EQ(q[6], std::int8_t(std::nearbyint(iscale * x[6])));
  EXPECT_EQ(bsum[0], q[3] + q[4] + q[5] + q[6]);
  EXPECT_EQ(d[1], 0.0f);
  for (int k = 256; k < 512; ++k) ASSERT_EQ(q[std::size_t(k)], 0);
}

// The vector quantizer gives the scalar reference's numbers: random rows, the largest magnitude
// reached twice with opposite signs (the first one's sign decides d), halves that round to even,
// values past the clamp's side, and an all-zero block.
TEST_P(MatmulGgml, FastQuantizerGivesTheReferenceNumbers) {
  const int M = 3, K = 1024;
  auto x = random_vec(std::size_t(M) * K, 23);
  x[10] = 3.0f, x[200] = -3.0f;  // block 0: first largest positive
  x[256 + 7] = -5.0f, x[256 + 9] = 5.0f;  // block 1: first largest negative
  for (int j = 0; j < 256; ++j) x[512 + j] = 0.0f;  // block 2: zero
  for (int j = 0; j < 64; ++j) x[768 + j] = (float(j) + 0.5f) * (4.0f / 127);  // block 3: halves of the step
  x[768 + 100] = -4.0f;
  std::vector<std::int8_t> q(std::size_t(M) * K), q2(q.size());
  std::vector<float> d(std::size_t(M) * K / 256), d2(d.size());
  std::vector<std::int16_t> bs(std::size_t(M) * K / 16), bs2(bs.size());
  quantize_q8k(x.data(), M, K, q.data(), d.data(), bs.data());
  quantize_q8k_fast(x.data(), M, K, q2.data(), d2.data(), bs2.data());
  EXPECT_EQ(q, q2) << isa_name(active_isa());
  EXPECT_EQ(d, d2) << isa_name(active_isa());
  EXPECT_EQ(bs, bs2) << isa_name(active_isa());
  EXPECT_LT(d[0], 0.0f);  // d = largest / −127
  EXPECT_GT(d[1], 0.0f);
  EXPECT_EQ(d[2], 0.0f);
}

TEST_P(MatmulGgml, EveryOutputIsTheQ8KSumOfItsBlocks) {
  ThreadPool pool(2);
  for (GgmlType type : kTypes)
    for (const Shape& s : kShapes) {
      const Blocks w(type, s.N, s.K, 7);
      for (int M : {1, 2, 3, 7, 8, 9, 17}) {
        const auto x = random_vec(std::size_t(M) * s.K, 3);
        std::vector<float> y(std::size_t(M) * s.N);
        matmul(x.data(), w.view, y.data(), M, &pool);
        ASSERT_EQ(y, q8k_reference(x, w, M))
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

TEST_P(MatmulGgml, CloseToTheDoubleProductWithTheDequantizedWeights) {
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
        // Each activation is off by at most half its block's step (max|x| / 127 / 2, here <= 1/254),
        // plus float rounding.
        double bound = 0, prod = 0;
        const int m = int(i) / s.N, n = int(i) % s.N;
        for (int k = 0; k < s.K; ++k) {
          bound += std::fabs(double(wf[std::size_t(n) * s.K + k])) / 254;
          prod += std::fabs(double(x[std::size_t(m) * s.K + k]) * wf[std::size_t(n) * s.K + k]);
        }
        ASSERT_NEAR(y[i], ref[i], bound * 1.01 + prod * 1e-5 + 1e-30) << ggml_type_name(w.view.ggml_type) << " at " << i;
      }
    }
}

TEST(MatmulGgml, ReadsQ4KAndQ6KOnly) {
  EXPECT_TRUE(matmul_reads_ggml(std::uint32_t(GgmlType::kQ4_K)));
  EXPECT_TRUE(matmul_reads_ggml(std::uint32_t(GgmlType::kQ6_K)));
  for (GgmlType t : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ5_K})
    EXPECT_FALSE(matmul_reads_ggml(std::uint32_t(t))) << ggml_type_name(std::uint32_t(t));
  // Panels of 16 rows: 2,368 bytes per 256 × 16 weights of Q4_K (the file's 2,304 and 64 of
  // unpacked scales and mins), 3,392 of Q6_K (the file's 3,360 and 32 of padding).
  EXPECT_EQ(ggml_panels_bytes(std::uint32_t(GgmlType::kQ4_K), 17, 2048), 2u * 8 * 2368);
  EXPECT_EQ(ggml_panels_bytes(std::uint32_t(GgmlType::kQ6_K), 16, 2048), 1u * 8 * 3392);
}

}  // namespace
}  // namespace ladle::model
