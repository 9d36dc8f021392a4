// Transformer::memory(): the packed weights at their type's width, the embedding, the step
// buffers with the RoPE table, and the process's resident set, as the load log line states them.
#include "model/model_memory.h"

#include <gtest/gtest.h>

#include <string>

#include "model/checkpoint_writer.h"
#include "model/transformer.h"

namespace ladle::model {
namespace {

TEST(ModelMemory, CountsWhatTheModelHoldsBeforeItsCache) {
  ModelConfig c;
  c.dim = 64; c.hidden_dim = 160; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2; c.vocab_size = 512; c.seq_len = 256;
  const std::string path = ::testing::TempDir() + "/ladle_model_memory.bin";
  ASSERT_TRUE(write_synthetic_checkpoint(path, c, 3).ok());
  for (WeightType type : {WeightType::kF32, WeightType::kF16}) {
    auto m = Transformer::load(path, RuntimeLimits{32, 4, 1, type, false});
    ASSERT_TRUE(m.ok()) << m.error().message;
    const ModelMemory mem = (*m)->memory();
    const std::size_t width = type == WeightType::kF16 ? 2 : 4;
    EXPECT_EQ(mem.packed_weights, c.matmul_params() * width);
    EXPECT_EQ(mem.embedding, std::size_t(512) * 64 * 4);
    // The RoPE table alone is seq_len × head_dim floats; the step buffers add 32 rows of each.
    EXPECT_GE(mem.step_buffers, std::size_t(256) * 16 * 4 + std::size_t(32) * (6 * 64 + 2 * 32 + 2 * 160) * 4);
    EXPECT_EQ(mem.argmax_screen, 0u);
    ASSERT_TRUE(mem.resident.has_value());
    EXPECT_GE(*mem.resident, mem.packed_weights);
    const std::string line = mem.describe(weight_type_name(type));
    EXPECT_NE(line.find("MiB resident before the KV cache (weights "), std::string::npos) << line;
    EXPECT_NE(line.find(std::string(" packed ") + weight_type_name(type)), std::string::npos) << line;
  }
}

// `--weights native`: the matrices read from the file's blocks are named apart from the panels.
TEST(ModelMemory, NamesWeightsReadInPlaceFromTheFile) {
  ModelMemory mem;
  mem.packed_weights = 3 << 20;
  mem.embedding = 1 << 20;
  mem.file_weights = 800 << 20;
  EXPECT_EQ(mem.computed_total(), std::size_t(804) << 20);
  const std::string line = mem.describe("native");
  EXPECT_NE(line.find("weights 3.0 MiB packed native and 800.0 MiB in the file's K-quant numbers"), std::string::npos)
      << line;
  mem.file_weights = 0;
  EXPECT_EQ(mem.describe("q8").find("own blocks"), std::string::npos);
}

}  // namespace
}  // namespace ladle::model
