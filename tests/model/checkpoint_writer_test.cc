// write_synthetic_checkpoint: deterministic bytes, the exact size run.c expects, and a model whose
// activations stay finite and whose greedy output is not degenerate.
#include "model/checkpoint_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <vector>

#include "model/sampler.h"
#include "model/transformer.h"

namespace ladle::model {
namespace {

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

ModelConfig small() {
  ModelConfig c;
  c.dim = 64; c.hidden_dim = 172; c.n_layers = 4; c.n_heads = 8; c.n_kv_heads = 4;
  c.vocab_size = 512; c.seq_len = 128;
  return c;
}

TEST(CheckpointWriter, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const std::string dir = ::testing::TempDir();
  ASSERT_TRUE(write_synthetic_checkpoint(dir + "/a.bin", small(), 5).ok());
  ASSERT_TRUE(write_synthetic_checkpoint(dir + "/b.bin", small(), 5).ok());
  ASSERT_TRUE(write_synthetic_checkpoint(dir + "/c.bin", small(), 6).ok());
  const auto a = read_all(dir + "/a.bin");
  EXPECT_EQ(a.size(), 28 + small().checkpoint_floats() * 4);
  EXPECT_EQ(a, read_all(dir + "/b.bin"));
  EXPECT_NE(a, read_all(dir + "/c.bin"));
}

TEST(CheckpointWriter, RefusesInvalidConfigAndUnwritablePath) {
  ModelConfig bad = small();
  bad.n_kv_heads = 3;
  EXPECT_FALSE(write_synthetic_checkpoint(::testing::TempDir() + "/bad.bin", bad, 1).ok());
  EXPECT_FALSE(write_synthetic_checkpoint("/nonexistent-dir/x.bin", small(), 1).ok());
}

TEST(CheckpointWriter, ModelRunsWithSaneActivations) {
  for (bool shared : {true, false}) {
    ModelConfig c = small();
    c.shared_classifier = shared;
    const std::string path = ::testing::TempDir() + "/run.bin";
    ASSERT_TRUE(write_synthetic_checkpoint(path, c, 11).ok());
    auto model = Transformer::load(path, RuntimeLimits{32, 2, 1});
    ASSERT_TRUE(model.ok()) << model.error().message;
    kvcache::KvStore kv((*model)->kv_shape(16), 8);
    std::set<TokenId> seen;
    std::vector<float> prev;
    TokenId tok = 1;
    for (int pos = 0; pos < 100; ++pos) {
      ForwardBatch b{{tok}, {pos}, {{0, 1, pos + 1, {0, 1, 2, 3, 4, 5, 6}, true}}};
      auto logits = (*model)->forward(b, kv);
      float mx = 0;
      for (float v : logits) {
        ASSERT_TRUE(std::isfinite(v));
        mx = std::max(mx, std::fabs(v));
      }
      EXPECT_LT(mx, 100.0f);
      EXPECT_NE(prev, std::vector<float>(logits.begin(), logits.end()));  // the step did something
      prev.assign(logits.begin(), logits.end());
      seen.insert(argmax(logits));
      tok = TokenId((pos * 37 + 11) % c.vocab_size);  // teacher-forced varied input
    }
    EXPECT_GT(seen.size(), 3u);  // the predictions follow the input
  }
}

}  // namespace
}  // namespace ladle::model
