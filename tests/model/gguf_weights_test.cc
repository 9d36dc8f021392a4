// llama_config_from_gguf + llama_weights_from_gguf: a llama GGUF written by the test's own builder
// (F32, F16, BF16, Q8_0 and Q4_0 matrices; tied and untied classifier) loads with every tensor's
// values where the Weights say, widened exactly as ggml does; and each kind of file ladle cannot
// run (another architecture, partial or YaRN-scaled RoPE, biases in part of the layers, experts, a missing, misshapen, unknown-type
// or extra tensor) is refused with a message naming it.
#include "model/gguf_weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "model/ggml_dequantize.h"
#include "model/ggml_panels.h"
#include "model/gguf_config.h"
#include "model/half.h"
#include "model/matmul_ggml.h"
#include "model/q8_panels.h"
#include "tests/model/gguf_builder.h"

namespace ladle::model {
namespace {

using namespace ladle::testing_gguf;

constexpr std::uint32_t kTF32 = 0, kTF16 = 1, kTQ4_0 = 2, kTQ8_0 = 8, kTQ4_K = 12, kTBF16 = 30;

ModelConfig small(bool shared) {
  ModelConfig c;
  c.dim = 64; c.hidden_dim = 96; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
  c.vocab_size = 40; c.seq_len = 32; c.shared_classifier = shared; c.rope_theta = 500.0f; c.norm_eps = 1e-6f;
  return c;
}

// One tensor's bytes in `type` and the floats ggml would widen them to, computed here from the
// block layouts (random scales and quants, so every bit pattern class shows up).
struct Encoded {
  std::vector<std::byte> bytes;
  std::vector<float> values;
};

Encoded encode(std::uint32_t type, std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Encoded e;
  auto put = [&](const void* p, std::size_t k) {
    const auto* b = static_cast<const std::byte*>(p);
    e.bytes.insert(e.bytes.end(), b, b + k);
  };
  if (type == kTF32 || type == kTF16 || type == kTBF16) {
    for (std::size_t i = 0; i < n; ++i) {
      float x = u(rng);
      if (type == kTF16) {
        const Half h = float_to_half(x);
        put(&h, 2);
        x = half_to_float(h);
      } else if (type == kTBF16) {
        std::uint32_t bits;
        std::memcpy(&bits, &x, 4);
        const auto top = std::uint16_t(bits >> 16);
        put(&top, 2);
        bits = std::uint32_t(top) << 16;
        std::memcpy(&x, &bits, 4);
      } else {
        put(&x, 4);
      }
      e.values.push_back(x);
    }
    return e;
  }
  for (std::size_t b = 0; b < n / 32; ++b) {
    const Half d = float_to_half(u(rng) * 0.05f);
    put(&d, 2);
    const float scale = half_to_float(d);
    if (type == kTQ8_0) {
      for (int j = 0; j < 32; ++j) {
        const auto q = std::int8_t(int(rng() % 256) - 128);
        put(&q, 1);
        e.values.push_back(float(q) * scale);
      }
    } else {  // Q4_0: low nibbles are elements 0..15, high nibbles 16..31
      std::vector<float> block(32);
      for (int j = 0; j < 16; ++j) {
        const auto q = std::uint8_t(rng() % 256);
        put(&q, 1);
        block[std::size_t(j)] = float((q & 15) - 8) * scale;
        block[std::size_t(j) + 16] = float((q >> 4) - 8) * scale;
      }
      e.values.insert(e.values.end(), block.begin(), block.end());
    }
  }
  return e;
}

// A llama GGUF for `c` with its matrices in `matrix_type`, and the floats each tensor must load as.
struct Spec {
  ModelConfig c;
  std::uint32_t matrix_type = kTF32;
  std::string arch = "llama";
  std::set<std::string> skip;                                  // tensors left out
  std::map<std::string, std::vector<std::int64_t>> reshape;    // tensors written with another shape
  std::map<std::string, std::uint32_t> retype;                 // tensors written in another type
  std::function<void(GgufBuilder&)> more;                      // extra keys or tensors
};

struct Built {
  std::vector<std::byte> bytes;
  std::map<std::string, std::vector<float>> values;
};

Built build(const Spec& s) {
  const ModelConfig& c = s.c;
  GgufBuilder g;
  g.str("general.architecture", s.arch);
  g.u32("llama.context_length", std::uint32_t(c.seq_len)).u32("llama.embedding_length", std::uint32_t(c.dim));
  g.u32("llama.block_count", std::uint32_t(c.n_layers)).u32("llama.feed_forward_length", std::uint32_t(c.hidden_dim));
  g.u32("llama.attention.head_count", std::uint32_t(c.n_heads)).u32("llama.attention.head_count_kv", std::uint32_t(c.n_kv_heads));
  g.f32("llama.rope.freq_base", c.rope_theta).f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  if (s.more) s.more(g);
  const std::int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), v = c.vocab_size;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> t = {{"token_embd.weight", {d, v}}};
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    for (auto& [name, ne] : std::vector<std::pair<std::string, std::vector<std::int64_t>>>{
             {"attn_norm", {d}}, {"attn_q", {d, d}}, {"attn_k", {d, kv}}, {"attn_v", {d, kv}}, {"attn_output", {d, d}},
             {"ffn_norm", {d}}, {"ffn_gate", {d, h}}, {"ffn_down", {h, d}}, {"ffn_up", {d, h}}})
      t.push_back({b + name + ".weight", ne});
  }
  t.push_back({"output_norm.weight", {d}});
  if (!c.shared_classifier) t.push_back({"output.weight", {d, v}});
  Built out;
  std::mt19937 rng(7);
  for (auto& [name, ne] : t) {
    if (s.skip.count(name)) continue;
    std::vector<std::int64_t> shape = s.reshape.count(name) ? s.reshape.at(name) : ne;
    std::size_t n = 1;
    for (auto x : shape) n *= std::size_t(x);
    std::uint32_t type = shape.size() == 1 ? kTF32 : s.matrix_type;
    if (s.retype.count(name)) type = s.retype.at(name);
    Encoded e = encode(type == kTQ4_K ? kTQ8_0 : type, n, rng);
    if (type == kTQ4_K) e.bytes.resize(n / 256 * 144);
    g.tensor(name, shape, type, e.bytes);
    out.values[name] = std::move(e.values);
  }
  out.bytes = g.build();
  return out;
}

// Config and weights of `s`, or the first error.
struct Loaded {
  std::shared_ptr<const GgufFile> file;
  std::optional<Weights> weights;
  std::string error;
};

Loaded load(const Built& b) {
  Loaded l;
  auto f = GgufFile::parse(b.bytes, "m.gguf");
  if (!f) {
    l.error = f.error().message;
    return l;
  }
  l.file = std::make_shared<const GgufFile>(std::move(*f));
  auto c = llama_config_from_gguf(*l.file);
  if (!c) {
    l.error = c.error().message;
    return l;
  }
  auto w = llama_weights_from_gguf(l.file, *c);
  if (!w) l.error = w.error().message;
  else l.weights.emplace(std::move(*w));
  return l;
}

Spec spec(const ModelConfig& c, std::uint32_t type = kTF32) {
  Spec s;
  s.c = c;
  s.matrix_type = type;
  return s;
}
Spec with_arch(Spec s, std::string arch) { s.arch = std::move(arch); return s; }
Spec with_more(Spec s, std::function<void(GgufBuilder&)> more) { s.more = std::move(more); return s; }
Spec without(Spec s, std::string name) { s.skip.insert(std::move(name)); return s; }
Spec reshaped(Spec s, std::string name, std::vector<std::int64_t> ne) { s.reshape[std::move(name)] = std::move(ne); return s; }
Spec retyped(Spec s, std::string name, std::uint32_t type) { s.retype[std::move(name)] = type; return s; }

void expect_values(const float* got, const std::vector<float>& want, const std::string& what) {
  ASSERT_NE(got, nullptr) << what;
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(want[i])) << what << " element " << i;
}

// A matmul matrix: F32 ones are used in place, every other type stays in the file's blocks (no
// fp32 copy); either way holding exactly `want`.
void expect_matrix(const Matrix& m, const std::vector<float>& want, std::uint32_t type, const std::string& what) {
  if (type == kTF32) {
    EXPECT_EQ(m.ggml.data, nullptr) << what;
    return expect_values(m.f32, want, what);
  }
  EXPECT_EQ(m.f32, nullptr) << what << ": a block matrix has no fp32 copy";
  ASSERT_EQ(m.ggml.type, type) << what;
  std::vector<float> widened(want.size());
  dequantize(m.ggml.type, m.ggml.data, widened.data(), widened.size());
  expect_values(widened.data(), want, what);
}

// Every packed q8 value of `m` [N × K] is want's (Q8_0 / Q4_0 blocks are copied, not requantized).
void expect_q8_panels(const Matrix& m, const std::vector<float>& want, const std::string& what) {
  ASSERT_NE(m.packed.q8, nullptr) << what;
  const int N = m.packed.N, K = m.packed.K;
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k)
      ASSERT_EQ(q8_value(m.packed.q8, K, n, k), want[std::size_t(n) * K + k]) << what << " at " << n << "," << k;
}

// Every packed q8 value of `m` [N × K] is within half a quantization step of want's, plus what
// storing the step as a half costs (|q| ≤ 127 times its rounding, 2^-11 of it): 0.57 steps.
void expect_q8_near(const Matrix& m, const std::vector<float>& want, const std::string& what) {
  ASSERT_NE(m.packed.q8, nullptr) << what;
  const int N = m.packed.N, K = m.packed.K;
  for (int n = 0; n < N; ++n) {
    float amax = 0;
    for (int k = 0; k < K; ++k) amax = std::max(amax, std::abs(want[std::size_t(n) * K + k]));
    for (int k = 0; k < K; ++k)
      ASSERT_NEAR(q8_value(m.packed.q8, K, n, k), want[std::size_t(n) * K + k], amax / 127 * 0.57f + 1e-6f)
          << what << " at " << n << "," << k;
  }
}

TEST(GgufWeights, LoadsEveryTensorTypeExactly) {
  for (std::uint32_t type : {kTF32, kTF16, kTBF16, kTQ8_0, kTQ4_0})
    for (bool shared : {true, false}) {
      SCOPED_TRACE("type " + std::to_string(type) + (shared ? " tied" : " untied"));
      const Built b = build(spec(small(shared), type));
      Loaded l = load(b);
      ASSERT_TRUE(l.weights) << l.error;
      const Weights& w = *l.weights;
      const ModelConfig& c = w.config();
      EXPECT_EQ(c.dim, 64);
      EXPECT_EQ(c.hidden_dim, 96);
      EXPECT_EQ(c.n_layers, 2);
      EXPECT_EQ(c.n_kv_heads, 2);
      EXPECT_EQ(c.vocab_size, 40);
      EXPECT_EQ(c.seq_len, 32);
      EXPECT_EQ(c.rope_theta, 500.0f);
      EXPECT_EQ(c.norm_eps, 1e-6f);
      EXPECT_EQ(c.shared_classifier, shared);
      // The embedding: F32 in place; any other type's rows stay in the file's blocks and are
      // widened one at a time.
      const bool blocks = type != kTF32;
      EXPECT_EQ(w.token_embedding() == nullptr, blocks);
      if (!blocks) expect_values(w.token_embedding(), b.values.at("token_embd.weight"), "token_embd");
      std::vector<float> rows(b.values.at("token_embd.weight").size());
      for (int t = 0; t < c.vocab_size; ++t) w.embedding_row(t, rows.data() + std::size_t(t) * c.dim);
      expect_values(rows.data(), b.values.at("token_embd.weight"), "token_embd rows");
      for (int i = 0; i < 2; ++i) {
        const LayerWeights& lw = w.layer(i);
        const std::string p = "blk." + std::to_string(i) + ".";
        expect_values(lw.rms_att, b.values.at(p + "attn_norm.weight"), p + "attn_norm");
        expect_matrix(lw.wq, b.values.at(p + "attn_q.weight"), type, p + "attn_q");
        expect_matrix(lw.wk, b.values.at(p + "attn_k.weight"), type, p + "attn_k");
        expect_matrix(lw.wv, b.values.at(p + "attn_v.weight"), type, p + "attn_v");
        expect_matrix(lw.wo, b.values.at(p + "attn_output.weight"), type, p + "attn_output");
        expect_values(lw.rms_ffn, b.values.at(p + "ffn_norm.weight"), p + "ffn_norm");
        expect_matrix(lw.w1, b.values.at(p + "ffn_gate.weight"), type, p + "ffn_gate");
        expect_matrix(lw.w2, b.values.at(p + "ffn_down.weight"), type, p + "ffn_down");
        expect_matrix(lw.w3, b.values.at(p + "ffn_up.weight"), type, p + "ffn_up");
      }
      expect_values(w.rms_final(), b.values.at("output_norm.weight"), "output_norm");
      if (shared) EXPECT_EQ(w.classifier().f32, w.token_embedding());
      else expect_matrix(w.classifier(), b.values.at("output.weight"), type, "output");
      // F32 tensors are used in place, in the file's bytes.
      if (type == kTF32) {
        const auto* q = l.file->find_tensor("blk.1.attn_q.weight");
        EXPECT_EQ(static_cast<const void*>(w.layer(1).wq.f32), static_cast<const void*>(q->data.data()));
      }
      // And the loaded weights pack and survive a move.
      Weights moved = std::move(*l.weights);
      ASSERT_TRUE(moved.convert(WeightType::kF16).ok());
      EXPECT_NE(moved.layer(0).w2.packed.f16, nullptr);
      expect_matrix(moved.layer(1).w3, b.values.at("blk.1.ffn_up.weight"), type, "ffn_up after convert");
      // q8 panels straight from Q8_0 / Q4_0 blocks hold the file's values exactly, the tied
      // classifier's from token_embd's blocks too.
      ASSERT_TRUE(moved.convert(WeightType::kQ8).ok());
      if (type == kTQ8_0 || type == kTQ4_0) {
        expect_q8_panels(moved.layer(1).w3, b.values.at("blk.1.ffn_up.weight"), "ffn_up as q8");
        expect_q8_panels(moved.classifier(), b.values.at(shared ? "token_embd.weight" : "output.weight"), "classifier as q8");
      } else {
        // Other types are widened one matrix at a time and quantized: near the file's values
        // (a step is at most the row's largest |w| / 127).
        expect_q8_near(moved.layer(1).w3, b.values.at("blk.1.ffn_up.weight"), "ffn_up as q8");
      }
    }
}

// --weights native: Q4_K matrices hold the file's numbers rearranged into panels of 16 rows
// (model/ggml_panels.h), the tied classifier token_embd's; a matrix of another type (here Q8_0) is
// packed as q8.
TEST(GgufWeights, NativeKeepsKQuantBlocksAsTheFileHoldsThem) {
  for (bool shared : {true, false}) {
    SCOPED_TRACE(shared ? "tied" : "untied");
    ModelConfig c = small(shared);
    c.dim = 256;
    c.hidden_dim = 512;
    const Built b = build(retyped(spec(c, kTQ4_K), "blk.1.ffn_down.weight", kTQ8_0));
    Loaded l = load(b);
    ASSERT_TRUE(l.weights) << l.error;
    Weights& w = *l.weights;
    ASSERT_TRUE(w.convert(WeightType::kNative).ok());
    EXPECT_EQ(w.type(), WeightType::kNative);
    // The file's bytes in panels (in the buffer of 2 MiB pages), each matrix on a 64-byte line.
    auto in_place = [&](const Matrix& m, const char* tensor) {
      EXPECT_EQ(m.packed.q8, nullptr) << tensor;
      EXPECT_EQ(m.packed.ggml_type, kTQ4_K) << tensor;
      const auto file = l.file->find_tensor(tensor)->data;
      ASSERT_NE(m.packed.ggml, nullptr) << tensor;
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.packed.ggml) % 64, 0u) << tensor;
      std::vector<std::byte> panels(ggml_panels_bytes(kTQ4_K, m.packed.N, m.packed.K));
      pack_ggml_panels(kTQ4_K, reinterpret_cast<const std::byte*>(file.data()), m.packed.N, m.packed.K, 0, panels.data());
      EXPECT_EQ(std::memcmp(m.packed.ggml, panels.data(), panels.size()), 0) << tensor;
    };
    in_place(w.layer(0).wq, "blk.0.attn_q.weight");
    in_place(w.layer(1).w1, "blk.1.ffn_gate.weight");
    in_place(w.layer(0).w2, "blk.0.ffn_down.weight");
    in_place(w.classifier(), shared ? "token_embd.weight" : "output.weight");
    // The Q8_0 matrix: q8 panels of the file's values.
    EXPECT_EQ(w.layer(1).w2.packed.ggml, nullptr);
    expect_q8_panels(w.layer(1).w2, b.values.at("blk.1.ffn_down.weight"), "ffn_down as q8");
    // Bytes: the Q4_K matrices' panels (2,368 per 16 rows × 256 weights), the rest in q8 panels.
    // Rows of K = 256 in both layers (wq, wk, wv, wo, w1, w3) and the classifier; layer 0's
    // ffn_down has K = 512.
    const int d = 256, h = 512, kv = c.kv_dim(), v = c.vocab_size;
    auto q4k = [](int N, int K) { return ggml_panels_bytes(kTQ4_K, N, K); };
    EXPECT_EQ(w.native_bytes(), 2 * (q4k(d, d) + 2 * q4k(kv, d) + q4k(d, d) + 2 * q4k(h, d)) + q4k(v, d) + q4k(d, h));
    EXPECT_GE(w.packed_bytes(), q8_packed_bytes(int(d), int(h)));
    EXPECT_EQ(w.bytes_per_token(), w.packed_bytes() + w.native_bytes() + d * sizeof(float));
  }
}

TEST(GgufWeights, RefusesWhatLadleCannotRun) {
  auto expect = [](Spec s, const std::string& want) {
    const std::string e = load(build(s)).error;
    EXPECT_NE(e.find(want), std::string::npos) << "wanted '" << want << "', got: " << (e.empty() ? "(loaded)" : e);
    EXPECT_EQ(e.rfind("gguf m.gguf: ", 0), 0u) << e;
  };
  const Spec c = spec(small(false));
  expect(with_arch(c, "gemma"), "unsupported architecture 'gemma': ladle runs general.architecture 'llama' and 'qwen2'");
  expect(with_more(c, [](GgufBuilder& g) { g.u32("llama.rope.dimension_count", 8); }),
         "llama.rope.dimension_count is 8 but the head size is 16");
  expect(with_more(c, [](GgufBuilder& g) { g.str("llama.rope.scaling.type", "yarn"); }), "llama.rope.scaling.type 'yarn'");
  expect(with_more(c, [](GgufBuilder& g) { g.u32("llama.expert_count", 8); }), "not MoE");
  expect(with_more(c, [](GgufBuilder& g) { g.u32("llama.vocab_size", 41); }),
         "llama.vocab_size is 41 but token_embd.weight has 40 rows");
  expect(with_more(c, [](GgufBuilder& g) { g.array<std::int32_t>("llama.attention.key_length", kI32, {16, 16}); }),
         "llama.attention.key_length is an array (per-layer values)");
  expect(without(c, "blk.1.ffn_up.weight"), "tensor 'blk.1.ffn_up.weight' is missing");
  expect(without(c, "token_embd.weight"), "tensor 'token_embd.weight' is missing");
  expect(reshaped(c, "blk.0.attn_k.weight", {64, 64}),
         "tensor 'blk.0.attn_k.weight' has shape [64, 64] but the hyperparameters make it [64, 32]");
  expect(reshaped(c, "blk.1.ffn_down.weight", {64, 96}),
         "tensor 'blk.1.ffn_down.weight' has shape [64, 96] but the hyperparameters make it [96, 64]");
  expect(reshaped(c, "output.weight", {64, 41}), "tensor 'output.weight' has shape [64, 41]");
  expect(reshaped(c, "blk.0.attn_norm.weight", {64, 1}), "tensor 'blk.0.attn_norm.weight' has shape [64, 1]");
  expect(reshaped(c, "token_embd.weight", {32, 40}), "tensor 'token_embd.weight' has shape [32, 40]");
  expect(retyped(reshaped(c, "blk.0.attn_v.weight", {256, 8}), "blk.0.attn_v.weight", kTQ4_K),
         "tensor 'blk.0.attn_v.weight' has shape [256, 8]");
  expect(retyped(c, "blk.0.attn_v.weight", kTQ4_K), "not a multiple of its block of 256");
  expect(with_more(c, [](GgufBuilder& g) { g.tensor("rope_freqs.weight", {8}, 0, std::vector<std::byte>(32)); }),
         "tensor 'rope_freqs.weight' holds a factor that is not positive and finite");
  expect(with_more(c, [](GgufBuilder& g) { g.tensor("rope_freqs.weight", {16}, 0, std::vector<std::byte>(64)); }),
         "tensor 'rope_freqs.weight' has shape [16], expected [8]");
  expect(with_more(c, [](GgufBuilder& g) { g.tensor("blk.0.attn_q.bias", {64}, 0, std::vector<std::byte>(256)); }),
         "tensor 'blk.0.attn_k.bias' is missing: ladle runs Q/K/V biases in all layers or in none");
  expect(with_arch(c, ""), "unsupported architecture ''");
}

TEST(GgufConfig, ReadsDefaultsAndRefusesMissingKeys) {
  // head_count_kv, rope.freq_base and rope.dimension_count are optional.
  GgufBuilder g;
  g.str("general.architecture", "llama").u32("llama.context_length", 16).u32("llama.embedding_length", 32);
  g.u32("llama.block_count", 1).u32("llama.feed_forward_length", 40).u32("llama.attention.head_count", 4);
  g.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  g.tensor("token_embd.weight", {32, 300}, 0, std::vector<std::byte>(32 * 300 * 4));
  auto bytes = g.build();
  auto f = GgufFile::parse(bytes, "d.gguf");
  ASSERT_TRUE(f.ok()) << f.error().message;
  auto c = llama_config_from_gguf(*f);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->n_kv_heads, 4);
  EXPECT_EQ(c->rope_theta, 10000.0f);
  EXPECT_EQ(c->vocab_size, 300);
  EXPECT_TRUE(c->shared_classifier);

  GgufBuilder m;
  m.str("general.architecture", "llama").u32("llama.embedding_length", 32);
  bytes = m.build();
  f = GgufFile::parse(bytes, "d.gguf");
  ASSERT_TRUE(f.ok());
  c = llama_config_from_gguf(*f);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("'llama.feed_forward_length' is missing"), std::string::npos) << c.error().message;
  GgufBuilder n;
  n.u32("llama.embedding_length", 32);
  bytes = n.build();
  f = GgufFile::parse(bytes, "d.gguf");
  c = llama_config_from_gguf(*f);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("'general.architecture' is missing"), std::string::npos) << c.error().message;
}

}  // namespace
}  // namespace ladle::model
