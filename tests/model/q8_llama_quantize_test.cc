// --weights q8 gives llama.cpp's own Q8_0 numbers: tests/model/data/llama_quantize_q8_0.gguf was
// quantized by llama.cpp's `llama-quantize … Q8_0` (see tests/model/data/README.md) from the f32
// GGUF of a synthetic checkpoint this test writes again; the q8 panels ladle packs from that
// file's blocks and the ones it quantizes from the checkpoint (model/q8_panels.h, as ggml's
// quantize_row_q8_0_ref) must be byte for byte the same, every matrix and the tied classifier.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "model/checkpoint_writer.h"
#include "model/gguf_config.h"
#include "model/gguf_file.h"
#include "model/gguf_weights.h"
#include "model/q8_panels.h"
#include "model/weights.h"

namespace ladle::model {
namespace {

const std::string kFile = std::string(LADLE_SOURCE_DIR) + "/tests/model/data/llama_quantize_q8_0.gguf";

void expect_same_panels(const Matrix& a, const Matrix& b, const std::string& what) {
  ASSERT_NE(a.packed.q8, nullptr) << what;
  ASSERT_NE(b.packed.q8, nullptr) << what;
  ASSERT_EQ(a.packed.N, b.packed.N) << what;
  ASSERT_EQ(a.packed.K, b.packed.K) << what;
  EXPECT_EQ(0, std::memcmp(a.packed.q8, b.packed.q8, q8_packed_bytes(a.packed.N, a.packed.K))) << what;
}

TEST(Q8LlamaQuantize, CheckpointQuantizedAtLoadEqualsLlamaQuantizeQ8_0) {
  // `ladle make-model --dim 32 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --vocab 300
  // --seq-len 128 --seed 42`.
  ModelConfig c;
  c.dim = 32; c.hidden_dim = 64; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
  c.vocab_size = 300; c.seq_len = 128;
  const std::string bin = ::testing::TempDir() + "/ladle_q8_llama_quantize.bin";
  ASSERT_TRUE(write_synthetic_checkpoint(bin, c, 42).ok());
  auto from_bin = Weights::load(bin);
  ASSERT_TRUE(from_bin.ok()) << from_bin.error().message;
  ASSERT_TRUE(from_bin->convert(WeightType::kQ8).ok());

  auto file = GgufFile::open(kFile);
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto shared = std::make_shared<const GgufFile>(std::move(*file));
  auto config = llama_config_from_gguf(*shared);
  ASSERT_TRUE(config.ok()) << config.error().message;
  auto from_gguf = llama_weights_from_gguf(shared, *config);
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.error().message;
  // Every matrix is Q8_0 in the file, kept as blocks (no fp32 copy), the classifier too.
  EXPECT_EQ(from_gguf->layer(1).w2.f32, nullptr);
  ASSERT_NE(from_gguf->classifier().ggml.data, nullptr);
  ASSERT_TRUE(from_gguf->convert(WeightType::kQ8).ok());

  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights &a = from_bin->layer(l), &b = from_gguf->layer(l);
    const std::string at = "layer " + std::to_string(l) + " ";
    expect_same_panels(a.wq, b.wq, at + "wq");
    expect_same_panels(a.wk, b.wk, at + "wk");
    expect_same_panels(a.wv, b.wv, at + "wv");
    expect_same_panels(a.wo, b.wo, at + "wo");
    expect_same_panels(a.w1, b.w1, at + "w1");
    expect_same_panels(a.w2, b.w2, at + "w2");
    expect_same_panels(a.w3, b.w3, at + "w3");
  }
  expect_same_panels(from_bin->classifier(), from_gguf->classifier(), "classifier");
}

}  // namespace
}  // namespace ladle::model
