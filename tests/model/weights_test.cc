// Weights: maps a good checkpoint (shared and unshared classifier) with tensors at run.c's
// offsets, and refuses every kind of bad file with a message naming the problem.
#include "model/weights.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "model/checkpoint_writer.h"

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
    EXPECT_EQ(w->layer(1).wk, w->layer(0).wk + 8 * 16);
    if (shared) EXPECT_EQ(w->classifier(), w->token_embedding());
    else EXPECT_EQ(w->classifier(), w->rms_final() + 16 + 8 * 4);  // after the freq_cis tables
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

TEST(Weights, MissingFileIsNotFound) {
  auto w = Weights::load(temp("does_not_exist.bin"));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace ladle::model
