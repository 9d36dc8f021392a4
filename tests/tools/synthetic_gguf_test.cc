// write_synthetic_gguf / `ladle make-model --format gguf`: the vocabulary GGUF's tokenizer keys and
// chat template copied unchanged (the real Llama 3 and Qwen 2 vocabularies of LADLE_VOCAB_DIR),
// the vocabulary size taken from it, the architecture's tensors at the asked type, and a file
// that ladle's model layer and tokenizer load.
#include "tools/synthetic_gguf.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "model/bpe_tokenizer.h"
#include "model/gguf_config.h"
#include "model/gguf_file.h"
#include "model/gguf_weights.h"
#include "model/half.h"
#include "model/model_file.h"

namespace ladle::tools {
namespace {

const std::string kVocab = LADLE_VOCAB_DIR;
const std::string kLadle = std::string(LADLE_BINARY_DIR) + "/ladle";

std::string temp(const std::string& name) { return ::testing::TempDir() + "/ladle_synth_gguf_" + name; }

model::ModelConfig small_shape() {
  model::ModelConfig c;
  c.dim = 64; c.hidden_dim = 96; c.n_layers = 2; c.n_heads = 8; c.n_kv_heads = 2; c.seq_len = 128;
  c.vocab_size = 300;  // replaced by the vocabulary file's
  c.rope_theta = 500000.0f;
  return c;
}

model::GgufFile open_gguf(const std::string& path) {
  auto f = model::GgufFile::open(path);
  EXPECT_TRUE(f.ok()) << f.error().message;
  return std::move(*f);
}

bool same_value(const model::GgufValue& a, const model::GgufValue& b) {
  return a.type == b.type && a.element_type == b.element_type && a.count == b.count && a.strings == b.strings &&
         a.fixed.size() == b.fixed.size() &&
         (a.fixed.empty() || std::memcmp(a.fixed.data(), b.fixed.data(), a.fixed.size()) == 0);
}

// Every tokenizer.* key of the vocabulary is in the model with the same type and value, and the
// model has no tokenizer key the vocabulary lacks.
void expect_tokenizer_copied(const model::GgufFile& vocab, const model::GgufFile& m) {
  int copied = 0;
  for (const model::GgufKeyValue& kv : vocab.metadata()) {
    if (!kv.key.starts_with("tokenizer.")) continue;
    const model::GgufValue* v = m.find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_TRUE(same_value(kv.value, *v)) << kv.key;
    ++copied;
  }
  for (const model::GgufKeyValue& kv : m.metadata()) {
    if (!kv.key.starts_with("tokenizer.")) continue;
    EXPECT_NE(vocab.find(kv.key), nullptr) << kv.key;
  }
  EXPECT_GE(copied, 7);
}

TEST(SyntheticGguf, Llama3CopiesTheLlamaBpeVocabulary) {
  SyntheticGgufOptions o;
  o.out = temp("l3.gguf");
  o.config = small_shape();
  o.vocab = kVocab + "/ggml-vocab-llama-bpe.gguf";
  auto s = write_synthetic_gguf(o);
  ASSERT_TRUE(s.ok()) << s.error().message;
  const model::GgufFile vocab = open_gguf(o.vocab), m = open_gguf(o.out);
  expect_tokenizer_copied(vocab, m);
  for (const char* key : {"tokenizer.ggml.pre", "tokenizer.ggml.merges", "tokenizer.ggml.token_type",
                          "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"})
    EXPECT_NE(m.find(key), nullptr) << key;
  EXPECT_EQ(s->tokenizer, "gpt2");
  EXPECT_EQ(s->config.vocab_size, 128256);
  EXPECT_EQ(*m.get_string("general.architecture"), "llama");
  EXPECT_EQ(*m.get_uint("llama.vocab_size"), 128256u);
  EXPECT_EQ(*m.get_float("llama.rope.freq_base"), 500000.0);
  const model::GgufTensorInfo* embd = m.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->shape(), "[64, 128256]");
  EXPECT_EQ(m.find_tensor("output.weight"), nullptr);  // shared classifier
  EXPECT_EQ(m.find_tensor("blk.0.attn_q.bias"), nullptr);
  EXPECT_EQ(m.find_tensor("blk.1.attn_k.weight")->shape(), "[64, 16]");  // GQA: 2 kv heads of 8

  // The model layer reads the hyperparameters and tensors; the tokenizer is the vocabulary's.
  auto cfg = model::llama_config_from_gguf(m);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->vocab_size, 128256);
  EXPECT_EQ(cfg->n_kv_heads, 2);
  EXPECT_EQ(cfg->rope_theta, 500000.0f);
  auto shared = std::make_shared<const model::GgufFile>(open_gguf(o.out));
  auto w = model::llama_weights_from_gguf(shared, *cfg);
  ASSERT_TRUE(w.ok()) << w.error().message;
  auto tok = model::BpeTokenizer::from_gguf(m);
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  auto ref = model::BpeTokenizer::from_gguf(vocab);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(tok->encode("Hello world<|eot_id|>", true, true), ref->encode("Hello world<|eot_id|>", true, true));
}

TEST(SyntheticGguf, Qwen2CopiesTheChatTemplateAndWritesBiases) {
  SyntheticGgufOptions o;
  o.out = temp("q2.gguf");
  o.arch = "qwen2";
  o.config = small_shape();
  o.config.shared_classifier = false;
  o.vocab = kVocab + "/ggml-vocab-qwen2.gguf";
  auto s = write_synthetic_gguf(o);
  ASSERT_TRUE(s.ok()) << s.error().message;
  const model::GgufFile vocab = open_gguf(o.vocab), m = open_gguf(o.out);
  expect_tokenizer_copied(vocab, m);
  ASSERT_NE(m.find("tokenizer.chat_template"), nullptr);
  EXPECT_NE(m.find("tokenizer.chat_template")->as_string()->find("<|im_start|>"), std::string_view::npos);
  EXPECT_EQ(*m.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(*m.get_uint("qwen2.embedding_length"), 64u);
  EXPECT_EQ(m.find("llama.embedding_length"), nullptr);
  EXPECT_EQ(m.find_tensor("blk.0.attn_q.bias")->shape(), "[64]");
  EXPECT_EQ(m.find_tensor("blk.1.attn_k.bias")->shape(), "[16]");
  EXPECT_EQ(m.find_tensor("blk.1.attn_v.bias")->shape(), "[16]");
  EXPECT_EQ(m.find_tensor("output.weight")->shape(), "[64, " + std::to_string(s->config.vocab_size) + "]");
  // The model layer reads it as qwen2: biases in every layer's views, RoPE over halves.
  auto shared = std::make_shared<const model::GgufFile>(open_gguf(o.out));
  auto cfg = model::llama_config_from_gguf(*shared);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_TRUE(cfg->qkv_bias);
  EXPECT_EQ(cfg->rope_style, model::RopeStyle::kHalves);
  EXPECT_FALSE(cfg->shared_classifier);
  auto w = model::llama_weights_from_gguf(shared, *cfg);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(static_cast<const void*>(w->layer(1).bk), static_cast<const void*>(shared->find_tensor("blk.1.attn_k.bias")->data.data()));
  EXPECT_EQ(static_cast<const void*>(w->layer(0).bq), static_cast<const void*>(shared->find_tensor("blk.0.attn_q.bias")->data.data()));
  EXPECT_EQ(static_cast<const void*>(w->layer(0).bv), static_cast<const void*>(shared->find_tensor("blk.0.attn_v.bias")->data.data()));
}

// The same draws at every type: F16 and BF16 hold the F32 file's values rounded (nearest even).
TEST(SyntheticGguf, HalfTypesRoundTheSameDraws) {
  SyntheticGgufOptions o;
  o.config = small_shape();
  o.vocab = kVocab + "/ggml-vocab-qwen2.gguf";
  o.arch = "qwen2";
  o.out = temp("f32.gguf");
  ASSERT_TRUE(write_synthetic_gguf(o).ok());
  o.out = temp("f16.gguf");
  o.type = GgmlType::kF16;
  ASSERT_TRUE(write_synthetic_gguf(o).ok());
  o.out = temp("bf16.gguf");
  o.type = GgmlType::kBF16;
  ASSERT_TRUE(write_synthetic_gguf(o).ok());
  const model::GgufFile a = open_gguf(temp("f32.gguf")), h = open_gguf(temp("f16.gguf")), b = open_gguf(temp("bf16.gguf"));
  for (const char* name : {"token_embd.weight", "blk.1.ffn_down.weight", "blk.0.attn_q.bias"}) {
    const model::GgufTensorInfo *x = a.find_tensor(name), *y = h.find_tensor(name), *z = b.find_tensor(name);
    const bool matrix = std::string_view(name).ends_with(".weight");
    EXPECT_EQ(y->type, matrix ? std::uint32_t(GgmlType::kF16) : 0u) << name;
    EXPECT_EQ(z->type, matrix ? std::uint32_t(GgmlType::kBF16) : 0u) << name;
    const auto* f = reinterpret_cast<const float*>(x->data.data());
    const auto* hv = reinterpret_cast<const std::uint16_t*>(y->data.data());
    const auto* bv = reinterpret_cast<const std::uint16_t*>(z->data.data());
    for (std::size_t i = 0; i < x->num_elements; i += 97) {
      if (!matrix) {
        EXPECT_EQ(reinterpret_cast<const float*>(y->data.data())[i], f[i]);
        continue;
      }
      EXPECT_EQ(hv[i], model::float_to_half(f[i])) << name << " " << i;
      const std::uint32_t u = std::bit_cast<std::uint32_t>(f[i]);
      const float widened = std::bit_cast<float>(std::uint32_t(bv[i]) << 16);
      EXPECT_LE(std::fabs(widened - f[i]), std::fabs(f[i]) / 256) << name << " " << i;
      EXPECT_EQ(bv[i], std::uint16_t((u + 0x7fff + ((u >> 16) & 1)) >> 16)) << name << " " << i;
    }
  }
}

TEST(SyntheticGguf, Llama3RopeScalingWritesConvertersFreqFactors) {
  SyntheticGgufOptions o;
  o.out = temp("l31.gguf");
  o.config = small_shape();
  o.config.dim = 128;  // head size 16: frequencies on both sides of the scaled band
  o.llama3_rope = Llama3RopeScaling{};
  ASSERT_TRUE(write_synthetic_gguf(o).ok());
  const model::GgufFile m = open_gguf(o.out);
  const model::GgufTensorInfo* t = m.find_tensor("rope_freqs.weight");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->shape(), "[8]");
  const auto* f = reinterpret_cast<const float*>(t->data.data());
  // base 500000, head 16, factor 8, low/high 1/4, original context 8192: wavelengths
  // 2π·500000^(i/8) are 6.3, 33, 171, 892 (< 2048: 1), 4663 (smoothed), 24k, 127k, 662k (> 8192: 8).
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f[i], 1.0f) << i;
  const double wavelen = 2 * M_PI * std::pow(500000.0, 4.0 / 8.0);
  const double smooth = (8192 / wavelen - 1) / (4 - 1);
  EXPECT_NEAR(f[4], 1 / ((1 - smooth) / 8 + smooth), 1e-5);
  for (int i = 5; i < 8; ++i) EXPECT_EQ(f[i], 8.0f) << i;
  o.arch = "qwen2";
  EXPECT_FALSE(write_synthetic_gguf(o).ok());  // scaling is written for llama only
}

TEST(SyntheticGguf, SameOptionsSameBytesAndBadInputRefused) {
  SyntheticGgufOptions o;
  o.config = small_shape();
  o.out = temp("a.gguf");
  auto a = write_synthetic_gguf(o);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->tokenizer, "llama");  // no vocabulary file: the synthetic SentencePiece one
  EXPECT_EQ(a->config.vocab_size, 300);
  o.out = temp("b.gguf");
  ASSERT_TRUE(write_synthetic_gguf(o).ok());
  auto bytes = [](const std::string& p) {
    std::string s;
    std::FILE* f = std::fopen(p.c_str(), "rb");
    for (int c; (c = std::fgetc(f)) != EOF;) s.push_back(char(c));
    std::fclose(f);
    return s;
  };
  EXPECT_EQ(bytes(temp("a.gguf")), bytes(temp("b.gguf")));
  // The synthetic SentencePiece file is a complete ladle model.
  auto loaded = model::load_model(temp("a.gguf"), "");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;

  o.out = temp("bad.gguf");
  o.vocab = kVocab + "/no-such-vocab.gguf";
  auto missing = write_synthetic_gguf(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no-such-vocab.gguf"), std::string::npos);
  o.vocab = temp("a.gguf");
  o.arch = "gemma";
  auto arch = write_synthetic_gguf(o);
  ASSERT_FALSE(arch.ok());
  EXPECT_NE(arch.error().message.find("gemma"), std::string::npos);
  o.arch = "llama";
  o.config.n_kv_heads = 3;
  EXPECT_FALSE(write_synthetic_gguf(o).ok());
  EXPECT_FALSE(std::filesystem::exists(temp("bad.gguf")));
}

std::pair<std::string, int> run(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {"", -1};
  std::string out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  return {out, pclose(p)};
}

// --vocab is a size when it is a number (checkpoints and GGUFs alike) and a vocabulary file otherwise.
TEST(MakeModelCommand, VocabIsASizeOrAFile) {
  const std::string shape = " --dim 32 --hidden 48 --layers 1 --heads 4 --seq-len 64";
  auto [bin, st1] = run(kLadle + " make-model" + shape + " --vocab 400 -o " + temp("m.bin"));
  EXPECT_EQ(st1, 0) << bin;
  EXPECT_NE(bin.find("vocab 400"), std::string::npos) << bin;
  auto [g, st2] = run(kLadle + " make-model" + shape + " --vocab 400 -o " + temp("m.gguf"));
  EXPECT_EQ(st2, 0) << g;
  EXPECT_NE(g.find("vocab 400 (llama tokenizer)"), std::string::npos) << g;
  auto [q, st3] = run(kLadle + " make-model" + shape + " --arch qwen2 --type bf16 --format gguf --vocab " + kVocab +
                      "/ggml-vocab-qwen2.gguf -o " + temp("m_qwen"));
  EXPECT_EQ(st3, 0) << q;
  const model::GgufFile m = open_gguf(temp("m_qwen"));
  EXPECT_EQ(*m.get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(m.find_tensor("blk.0.attn_q.weight")->type, std::uint32_t(GgmlType::kBF16));
  auto [e1, st4] = run(kLadle + " make-model" + shape + " --vocab " + kVocab + "/ggml-vocab-qwen2.gguf -o " + temp("m2.bin"));
  EXPECT_NE(st4, 0);
  EXPECT_NE(e1.find("needs GGUF output"), std::string::npos) << e1;
  auto [e2, st5] = run(kLadle + " make-model" + shape + " --type q4 -o " + temp("m3.gguf"));
  EXPECT_NE(st5, 0);
  EXPECT_NE(e2.find("--type must be f32, f16 or bf16"), std::string::npos) << e2;
}

}  // namespace
}  // namespace ladle::tools
