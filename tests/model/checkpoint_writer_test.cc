// write_synthetic_checkpoint: deterministic bytes, the exact size run.c expects, and a model whose
// activations stay finite and whose greedy output is not degenerate.
#include "model/checkpoint_writer.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "model/sampler.h"
#include "model/replacing_file.h"
#include "model/tokenizer_writer.h"
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

// Files in `dir` whose name contains ".partial" (a writer's temporary files).
int partial_files(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    n += e.path().filename().string().find(".partial") != std::string::npos;
  return n;
}

// A running server maps its checkpoint. Rewriting the file in place used to truncate it under the
// mapping, and the next read of a mapped page raised SIGBUS (this test then dies); the writers now
// replace the file by rename, so the mapping keeps the old bytes and the path gets the new ones.
TEST(CheckpointWriter, RewritingAMappedCheckpointLeavesTheMappingWhole) {
  const std::string dir = ::testing::TempDir() + "/replace";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/m.bin";
  ASSERT_TRUE(write_synthetic_checkpoint(path, small(), 1).ok());
  const std::vector<char> before = read_all(path);
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* map = ::mmap(nullptr, before.size(), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(map, MAP_FAILED);

  ModelConfig smaller = small();
  smaller.n_layers = 1;  // a shorter file: in place, the tail of the mapping would lie past EOF
  ASSERT_TRUE(write_synthetic_checkpoint(path, smaller, 2).ok());
  EXPECT_EQ(0, std::memcmp(map, before.data(), before.size()));
  ::munmap(map, before.size());
  EXPECT_EQ(read_all(path).size(), 28 + smaller.checkpoint_floats() * 4);
  EXPECT_EQ(0, partial_files(dir));

  // The tokenizer writer replaces its file the same way.
  const std::string tok = dir + "/tok.bin";
  const std::vector<std::string> two = {"a", "b"}, three = {"a", "b", "c"};
  const std::vector<float> s2 = {0, 0}, s3 = {0, 0, 0};
  ASSERT_TRUE(write_tokenizer(tok, two, s2).ok());
  const auto small_tok = read_all(tok).size();
  ASSERT_TRUE(write_tokenizer(tok, three, s3).ok());
  EXPECT_EQ(read_all(tok).size(), small_tok + 4 + 4 + 1);
  EXPECT_EQ(0, partial_files(dir));

  // A failed write leaves neither a temporary file nor a changed target.
  ModelConfig bad = small();
  bad.n_kv_heads = 3;
  EXPECT_FALSE(write_synthetic_checkpoint(path, bad, 3).ok());
  EXPECT_EQ(read_all(path).size(), 28 + smaller.checkpoint_floats() * 4);
  EXPECT_EQ(0, partial_files(dir));
}

// Two writers of one path at once (test processes making the same synthetic model) each write a
// whole file under their own temporary name; both commits succeed and the last one wins. With one
// shared temporary name the second writer truncated the first one's file, and its own rename
// then failed: the first rename had taken the file away.
TEST(ReplacingFile, TwoWritersOfOnePathAtOnceBothCommit) {
  const std::string dir = ::testing::TempDir() + "/replace_two";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/m.bin";
  ReplacingFile a(path), b(path);
  ASSERT_TRUE(a.opened().ok());
  ASSERT_TRUE(b.opened().ok());
  EXPECT_NE(a.temp_path(), b.temp_path());
  ASSERT_EQ(std::fputs("first writer", a.get()), 1);
  ASSERT_EQ(std::fputs("second", b.get()), 1);
  ASSERT_TRUE(a.commit().ok());
  const auto first = read_all(path);
  EXPECT_EQ(std::string(first.begin(), first.end()), "first writer");
  const Status second = b.commit();
  ASSERT_TRUE(second.ok()) << second.error().message;
  const auto last = read_all(path);
  EXPECT_EQ(std::string(last.begin(), last.end()), "second");
  EXPECT_EQ(0, partial_files(dir));
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
