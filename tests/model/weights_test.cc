// Weights: maps a good checkpoint (shared and unshared classifier) with tensors at run.c's
// offsets, refuses every kind of bad file with a message naming the problem, and packs its matmul
// matrices into aligned matmul panels at fp32 or half (and back) with the right bytes per token.
#include "model/weights.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "model/checkpoint_writer.h"
#include "model/q8_panels.h"

namespace ladle::model {
namespace {

ModelConfig tiny(bool shared) {
  ModelConfig c;
  c.dim = 16; c.hidden_dim = 40; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
  c.vocab_size = 32; c.seq_len = 8; c.shared_classifier = shared;
  return c;
}

std::string temp(const std::string& name) { return ::testing::TempDir() + "/ladle_w_" + name; }

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_all(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

TEST(Weights, LoadsSharedAndUnsharedClassifier) {
  for (bool shared : {true, false}) {
    const std::string path = temp(shared ? "shared.bin" : "unshared.bin");
    ASSERT_TRUE(write_synthetic_checkpoint(path, tiny(shared), 1).ok());
    auto w = Weights::load(path);
    ASSERT_TRUE(w.ok()) << w.error().message;
    const ModelConfig& c = w->config();
    EXPECT_EQ(c.dim, 16);
    EXPECT_EQ(c.n_kv_heads, 2);
    EXPECT_EQ(c.vocab_size, 32);
    EXPECT_EQ(c.shared_classifier, shared);
    // Tensor offsets follow run.c: rms_att right after the embedding, and it is all ones.
    EXPECT_EQ(w->layer(0).rms_att, w->token_embedding() + 32 * 16);
    EXPECT_EQ(w->layer(1).rms_att[15], 1.0f);
    EXPECT_EQ(w->rms_final()[0], 1.0f);
    EXPECT_EQ(w->layer(1).wk.f32, w->layer(0).wk.f32 + 8 * 16);
    EXPECT_EQ(w->layer(1).wk.packed.f32, nullptr);  // nothing packed until convert()
    EXPECT_EQ(w->layer(1).wk.packed.f16, nullptr);
    if (shared) EXPECT_EQ(w->classifier().f32, w->token_embedding());
    else EXPECT_EQ(w->classifier().f32, w->rms_final() + 16 + 8 * 4);  // after the freq_cis tables
    Weights moved = std::move(w).value();
    EXPECT_EQ(moved.config().hidden_dim, 40);
  }
}

void expect_refused(const std::vector<char>& bytes, const std::string& name, const std::string& words) {
  const std::string path = temp(name);
  write_all(path, bytes);
  auto w = Weights::load(path);
  ASSERT_FALSE(w.ok()) << name;
  EXPECT_EQ(w.error().code, ErrorCode::kInvalidArgument) << name;
  EXPECT_NE(w.error().message.find(words), std::string::npos) << name << ": " << w.error().message;
}

std::vector<char> with_header_field(std::vector<char> bytes, int field, std::int32_t value) {
  std::memcpy(bytes.data() + 4 * field, &value, 4);
  return bytes;
}

TEST(Weights, RefusesBadFiles) {
  const std::string good = temp("good.bin");
  ASSERT_TRUE(write_synthetic_checkpoint(good, tiny(true), 2).ok());
  const auto bytes = read_all(good);
  expect_refused({}, "empty.bin", "truncated");
  expect_refused({bytes.begin(), bytes.begin() + 20}, "short_header.bin", "truncated");
  expect_refused({bytes.begin(), bytes.end() - 4}, "truncated.bin", "truncated");
  auto longer = bytes;
  longer.push_back(0);
  expect_refused(longer, "oversized.bin", "oversized");
  expect_refused(with_header_field(bytes, 0, 0), "zero_dim.bin", "dim");
  expect_refused(with_header_field(bytes, 2, -3), "neg_layers.bin", "n_layers");
  expect_refused(with_header_field(bytes, 3, 5), "heads_dim.bin", "does not divide dim");
  expect_refused(with_header_field(bytes, 4, 3), "kv_heads.bin", "does not divide n_heads");
  expect_refused(with_header_field(bytes, 5, 0), "zero_vocab.bin", "vocab");
  expect_refused(with_header_field(bytes, 5, INT32_MIN), "min_vocab.bin", "vocab");
  expect_refused(with_header_field(bytes, 6, 0), "zero_seq.bin", "seq_len");
  // Flipping to an unshared classifier makes the same bytes too short.
  expect_refused(with_header_field(bytes, 5, -32), "unshared_short.bin", "truncated");
}

// The panels of matrix `m` [rows × cols] hold every value at its panel place (matmul.h), as the
// float itself (kF32) or its half rounded to nearest even (kF16), and 0 in the padding columns.
// kQ8: the bytes q8_pack_rows makes of the matrix (its own tests check those numbers).
void expect_panels(const Matrix& m, int rows, int cols, WeightType type, const std::string& what) {
  const PackedMatrix& p = m.packed;
  ASSERT_EQ(p.N, rows) << what;
  ASSERT_EQ(p.K, cols) << what;
  if (type == WeightType::kQ8) {
    ASSERT_TRUE(p.q8 != nullptr && p.f32 == nullptr && p.f16 == nullptr) << what;
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p.q8) % 64, 0u) << what;
    std::vector<std::uint8_t> want(q8_packed_bytes(rows, cols), 0);
    ASSERT_EQ(q8_pack_rows(m.f32, rows, cols, 0, want.data()), std::size_t(rows) * cols);
    ASSERT_EQ(0, std::memcmp(p.q8, want.data(), want.size())) << what;
    return;
  }
  ASSERT_EQ(p.q8, nullptr) << what;
  ASSERT_EQ(p.f16 == nullptr, type == WeightType::kF32) << what;
  ASSERT_EQ(p.f32 == nullptr, type == WeightType::kF16) << what;
  const void* data = p.f16 ? static_cast<const void*>(p.f16) : static_cast<const void*>(p.f32);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(data) % 64, 0u) << what;
  const int padded = (rows + kPanel - 1) / kPanel * kPanel;
  for (int n = 0; n < padded; ++n)
    for (int k = 0; k < cols; ++k) {
      const std::size_t at = std::size_t(n / kPanel) * cols * kPanel + std::size_t(k) * kPanel + n % kPanel;
      const float want = n < rows ? m.f32[std::size_t(n) * cols + k] : 0.0f;
      if (type == WeightType::kF16) ASSERT_EQ(p.f16[at], float_to_half(want)) << what << " at " << n << "," << k;
      else ASSERT_EQ(p.f32[at], want) << what << " at " << n << "," << k;
    }
}

void expect_all_panels(const Weights& w, WeightType type) {
  const int d = 16, h = 40, kv = 8;
  for (int l = 0; l < 2; ++l) {
    const LayerWeights& lw = w.layer(l);
    expect_panels(lw.wq, d, d, type, "wq");
    expect_panels(lw.wk, kv, d, type, "wk");
    expect_panels(lw.wv, kv, d, type, "wv");
    expect_panels(lw.wo, d, d, type, "wo");
    expect_panels(lw.w1, h, d, type, "w1");
    expect_panels(lw.w2, d, h, type, "w2");
    expect_panels(lw.w3, h, d, type, "w3");
  }
  expect_panels(w.classifier(), 32, d, type, "classifier");
}

TEST(Weights, PacksMatmulMatricesAtEitherTypeAndBack) {
  for (bool shared : {true, false}) {
    const std::string path = temp(shared ? "half_shared.bin" : "half_unshared.bin");
    ASSERT_TRUE(write_synthetic_checkpoint(path, tiny(shared), 3).ok());
    auto w = Weights::load(path);
    ASSERT_TRUE(w.ok()) << w.error().message;
    const ModelConfig& c = w->config();
    ASSERT_TRUE(w->convert(WeightType::kF32).ok());
    EXPECT_EQ(w->type(), WeightType::kF32);
    expect_all_panels(*w, WeightType::kF32);
    const std::size_t f32_bytes = w->bytes_per_token();
    EXPECT_EQ(f32_bytes, (c.matmul_params() + 16) * 4);
    ASSERT_TRUE(w->convert(WeightType::kF16).ok());
    EXPECT_EQ(w->type(), WeightType::kF16);
    // Matrices at 2 bytes, plus the one fp32 embedding row a token reads.
    EXPECT_EQ(w->bytes_per_token(), c.matmul_params() * 2 + 16 * 4);
    Weights moved = std::move(w).value();  // the panels move with the weights
    expect_all_panels(moved, WeightType::kF16);
    EXPECT_EQ(moved.classifier().f32, shared ? moved.token_embedding() : moved.rms_final() + 16 + 8 * 4);
    EXPECT_EQ(moved.layer(0).rms_att[3], 1.0f);  // norms stay fp32
    ASSERT_TRUE(moved.convert(WeightType::kQ8).ok());
    EXPECT_EQ(moved.type(), WeightType::kQ8);
    expect_all_panels(moved, WeightType::kQ8);
    // Matrices at 1 byte plus a half scale per 32, panel-padded, plus the embedding row.
    EXPECT_EQ(moved.bytes_per_token(), moved.packed_bytes() + 16 * 4);
    EXPECT_LT(moved.bytes_per_token(), c.matmul_params() * 2);
    ASSERT_TRUE(moved.convert(WeightType::kF32).ok());
    expect_all_panels(moved, WeightType::kF32);
    EXPECT_EQ(moved.bytes_per_token(), f32_bytes);
  }
}

TEST(Weights, RefusesValuesBeyondTheHalfRange) {
  const std::string good = temp("range_good.bin"), bad = temp("range_bad.bin");
  ASSERT_TRUE(write_synthetic_checkpoint(good, tiny(true), 4).ok());
  auto bytes = read_all(good);
  const float big = 65520.0f;  // the first float that rounds to a half infinity
  const std::size_t w2_float = 32 * 16 + 2 * 16 + 2 * (16 * 16 + 2 * 8 * 16 + 16 * 16) + 2 * 16 + 2 * 40 * 16 + 5;
  std::memcpy(bytes.data() + 28 + 4 * w2_float, &big, 4);
  write_all(bad, bytes);
  auto w = Weights::load(bad);
  ASSERT_TRUE(w.ok()) << w.error().message;  // fp32 is fine with it
  EXPECT_EQ(w->layer(0).w2.f32[5], big);
  const Status st = w->convert(WeightType::kF16);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message.find("65520"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("float " + std::to_string(w2_float) + " "), std::string::npos)
      << st.error().message;  // its place in the file, not in the panels
  EXPECT_NE(st.error().message.find("--weights f32"), std::string::npos) << st.error().message;
  EXPECT_EQ(w->type(), WeightType::kF32);  // unchanged
  // q8 takes it (a block scale of 65520/127), but not a value whose block scale is past a half.
  EXPECT_TRUE(w->convert(WeightType::kQ8).ok());
  const float huge = 1e7f;
  std::memcpy(bytes.data() + 28 + 4 * w2_float, &huge, 4);
  write_all(bad, bytes);
  auto w8 = Weights::load(bad);
  ASSERT_TRUE(w8.ok());
  const Status st8 = w8->convert(WeightType::kQ8);
  ASSERT_FALSE(st8.ok());
  EXPECT_NE(st8.error().message.find("--weights q8: weight value 1e+07 (float " + std::to_string(w2_float) + " "),
            std::string::npos) << st8.error().message;
  EXPECT_EQ(w->layer(0).wq.packed.f16, nullptr);
  // 65504 itself (the largest half) is accepted.
  const float largest = 65504.0f;
  std::memcpy(bytes.data() + 28 + 4 * w2_float, &largest, 4);
  write_all(bad, bytes);
  auto ok = Weights::load(bad);
  ASSERT_TRUE(ok.ok());
  ASSERT_TRUE(ok->convert(WeightType::kF16).ok());
  EXPECT_EQ(ok->layer(0).w2.packed.f16[5 * kPanel], 0x7bff);  // row 0, k = 5
}

TEST(Weights, ParsesWeightTypeNames) {
  EXPECT_EQ(*parse_weight_type("f32"), WeightType::kF32);
  EXPECT_EQ(*parse_weight_type("f16"), WeightType::kF16);
  EXPECT_EQ(*parse_weight_type("q8"), WeightType::kQ8);
  EXPECT_EQ(*parse_weight_type("native"), WeightType::kNative);
  for (const char* bad : {"", "fp16", "F16", "bf16", "f8", "q8_0", "Q8", "Native", "q4_k"}) {
    auto t = parse_weight_type(bad);
    ASSERT_FALSE(t.ok()) << bad;
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(t.error().message.find("f32, f16, q8 or native"), std::string::npos) << t.error().message;
  }
  EXPECT_STREQ(weight_type_name(WeightType::kNative), "native");
  EXPECT_STREQ(weight_type_name(WeightType::kQ8), "q8");
  EXPECT_STREQ(weight_type_name(WeightType::kF16), "f16");
  EXPECT_STREQ(weight_type_name(WeightType::kF32), "f32");
}

TEST(Weights, MissingFileIsNotFound) {
  auto w = Weights::load(temp("does_not_exist.bin"));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ladle::model
