// llama_config_from_gguf on the architectures of issue 24: "qwen2" keys under their own prefix,
// its NEOX RoPE (halves) against llama's adjacent pairs, Q/K/V biases detected from the tensors
// (all layers or none), linear RoPE scaling as llama.cpp reads it (type defaulting to linear, the
// old rope.scale_linear key, "none" overriding a factor), and Llama 3.1's rope_freqs factors.
#include "model/gguf_config.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/model/gguf_builder.h"

namespace ladle::model {
namespace {

using namespace ladle::testing_gguf;

std::vector<std::byte> f32_bytes(const std::vector<float>& v) {
  std::vector<std::byte> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// The keys and the token embedding of a dim-32, 4-head (head size 8), 2-layer model of `arch`.
GgufBuilder base(const std::string& arch) {
  GgufBuilder g;
  const std::string a = arch + ".";
  g.str("general.architecture", arch).u32(a + "context_length", 64).u32(a + "embedding_length", 32);
  g.u32(a + "block_count", 2).u32(a + "feed_forward_length", 48).u32(a + "attention.head_count", 4);
  g.u32(a + "attention.head_count_kv", 2).f32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
  g.f32(a + "rope.freq_base", 1000000.0f);
  g.tensor("token_embd.weight", {32, 50}, 0, std::vector<std::byte>(32 * 50 * 4));
  return g;
}

void add_biases(GgufBuilder& g, int layers) {
  for (int l = 0; l < layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    g.tensor(b + "attn_q.bias", {32}, 0, std::vector<std::byte>(32 * 4));
    g.tensor(b + "attn_k.bias", {16}, 0, std::vector<std::byte>(16 * 4));
    g.tensor(b + "attn_v.bias", {16}, 0, std::vector<std::byte>(16 * 4));
  }
}

Expected<ModelConfig> config_of(GgufBuilder& g, std::vector<std::byte>& keep) {
  keep = g.build();
  auto f = GgufFile::parse(keep, "c.gguf");
  if (!f) return f.error();
  return llama_config_from_gguf(*f);
}

TEST(GgufConfig, Qwen2ReadsItsPrefixHalvesRopeAndBiases) {
  GgufBuilder g = base("qwen2");
  add_biases(g, 2);
  std::vector<std::byte> bytes;
  auto c = config_of(g, bytes);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->dim, 32);
  EXPECT_EQ(c->n_kv_heads, 2);
  EXPECT_EQ(c->rope_theta, 1000000.0f);
  EXPECT_EQ(c->rope_style, RopeStyle::kHalves);
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_EQ(c->rope_freq_scale, 1.0f);
  EXPECT_TRUE(c->rope_freq_factors.empty());

  GgufBuilder l = base("llama");
  auto d = config_of(l, bytes);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->rope_style, RopeStyle::kAdjacentPairs);
  EXPECT_FALSE(d->qkv_bias);
  // A llama file may carry the biases too (llama.cpp loads them when present).
  GgufBuilder lb = base("llama");
  add_biases(lb, 2);
  auto e = config_of(lb, bytes);
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_TRUE(e->qkv_bias);
  EXPECT_EQ(e->rope_style, RopeStyle::kAdjacentPairs);
}

TEST(GgufConfig, BiasesInSomeLayersOnlyAreRefused) {
  GgufBuilder g = base("qwen2");
  add_biases(g, 1);
  std::vector<std::byte> bytes;
  auto c = config_of(g, bytes);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("'blk.1.attn_q.bias' is missing"), std::string::npos) << c.error().message;
  // qwen2 keys are read under qwen2., never llama.
  GgufBuilder m = base("qwen2");
  m.u32("llama.embedding_length", 64);
  auto d = config_of(m, bytes);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->dim, 32);
}

TEST(GgufConfig, LinearRopeScalingAsLlamaCppReadsIt) {
  std::vector<std::byte> bytes;
  {
    GgufBuilder g = base("llama");
    g.str("llama.rope.scaling.type", "linear").f32("llama.rope.scaling.factor", 4.0f);
    auto c = config_of(g, bytes);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->rope_freq_scale, 0.25f);
  }
  {  // the type defaults to linear; the old key name
    GgufBuilder g = base("llama");
    g.f32("llama.rope.scale_linear", 2.0f);
    auto c = config_of(g, bytes);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->rope_freq_scale, 0.5f);
  }
  {  // "none" never scales
    GgufBuilder g = base("llama");
    g.str("llama.rope.scaling.type", "none").f32("llama.rope.scaling.factor", 4.0f);
    auto c = config_of(g, bytes);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->rope_freq_scale, 1.0f);
  }
  for (const char* refused : {"yarn", "longrope"}) {
    GgufBuilder g = base("qwen2");
    g.str("qwen2.rope.scaling.type", refused).f32("qwen2.rope.scaling.factor", 4.0f);
    auto c = config_of(g, bytes);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message.find(std::string("qwen2.rope.scaling.type '") + refused + "'"), std::string::npos)
        << c.error().message;
  }
}

TEST(GgufConfig, Llama3RopeFreqsBecomeTheConfigsFactors) {
  GgufBuilder g = base("llama");
  g.tensor("rope_freqs.weight", {4}, 0, f32_bytes({1.0f, 1.0f, 2.5f, 8.0f}));
  std::vector<std::byte> bytes;
  auto c = config_of(g, bytes);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->rope_freq_factors, (std::vector<float>{1.0f, 1.0f, 2.5f, 8.0f}));

  GgufBuilder bad = base("llama");
  bad.tensor("rope_freqs.weight", {4}, 0, f32_bytes({1.0f, -1.0f, 2.5f, 8.0f}));
  auto d = config_of(bad, bytes);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("not positive and finite"), std::string::npos) << d.error().message;
}

}  // namespace
}  // namespace ladle::model
