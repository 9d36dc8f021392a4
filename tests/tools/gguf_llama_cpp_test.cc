// GGUF files ladle did not write: llama.cpp's llama2.c converter (`llama-convert-llama2c-to-ggml`,
// examples/convert-llama2c-to-ggml) spells the vocabulary its own way (<unk>/<s>/</s> by name,
// byte pieces typed), orders the tensors differently, always writes output.weight (a copy of the
// embedding when the checkpoint shares it) and a context_length of 128. Such a file must load as
// the checkpoint it came from, weight for weight, and generate the same greedy text.
//
// - tests/tools/data/llama_cpp_tiny.gguf (committed, 60 KB) was converted by llama.cpp de3ff81
//   (node-llama-cpp 3.22.1's bundled source) from `ladle make-model --dim 16 --hidden 48
//   --layers 2 --heads 4 --kv-heads 2 --vocab 300 --seq-len 128 --seed 42` and its synthetic
//   tokenizer (see tests/tools/data/README.md); the test writes that checkpoint again.
// - With the CMake variable LADLE_LLAMA2C_CONVERTER set to the converter's path, the trained
//   stories260K is converted at test time and compared the same way; otherwise that test skips.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "model/checkpoint_writer.h"
#include "model/model_file.h"
#include "model/tokenizer_writer.h"

namespace ladle::tools {
namespace {

const std::string kModels = LADLE_MODELS_DIR;
const std::string kLadle = std::string(LADLE_BINARY_DIR) + "/ladle";
const std::string kData = LADLE_TEST_DATA_DIR;
const std::string kConverter = LADLE_LLAMA2C_CONVERTER;

std::string temp(const std::string& name) { return ::testing::TempDir() + "/ladle_gguf_lcpp_" + name; }

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  return out;
}

void expect_floats(const float* got, const float* want, std::size_t n, const std::string& what) {
  ASSERT_NE(got, nullptr) << what;
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(want[i])) << what << " element " << i;
}

// The GGUF model equals the checkpoint: config (but the converter's context of 128 and its
// separate classifier), every weight, the tokenizer's ids.
void expect_same_model(const std::string& bin, const std::string& tok, const std::string& gguf) {
  auto a = model::load_model(bin, tok);
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto b = model::load_model(gguf, "");
  ASSERT_TRUE(b.ok()) << b.error().message;
  const model::ModelConfig &x = a->weights.config(), &y = b->weights.config();
  EXPECT_EQ(y.dim, x.dim);
  EXPECT_EQ(y.hidden_dim, x.hidden_dim);
  EXPECT_EQ(y.n_layers, x.n_layers);
  EXPECT_EQ(y.n_heads, x.n_heads);
  EXPECT_EQ(y.n_kv_heads, x.n_kv_heads);
  EXPECT_EQ(y.vocab_size, x.vocab_size);
  EXPECT_EQ(y.seq_len, 128);
  EXPECT_FALSE(y.shared_classifier);  // the converter writes output.weight
  EXPECT_EQ(y.rope_theta, x.rope_theta);
  EXPECT_EQ(y.norm_eps, x.norm_eps);
  const std::size_t d = x.dim, h = x.hidden_dim, kv = x.kv_dim(), v = x.vocab_size;
  const model::Weights &p = a->weights, &q = b->weights;
  expect_floats(q.token_embedding(), p.token_embedding(), v * d, "token_embd");
  expect_floats(q.classifier().f32, p.classifier().f32, v * d, "output");
  expect_floats(q.rms_final(), p.rms_final(), d, "output_norm");
  for (int l = 0; l < x.n_layers; ++l) {
    const model::LayerWeights &s = p.layer(l), &t = q.layer(l);
    expect_floats(t.rms_att, s.rms_att, d, "attn_norm");
    expect_floats(t.wq.f32, s.wq.f32, d * d, "attn_q");
    expect_floats(t.wk.f32, s.wk.f32, kv * d, "attn_k");
    expect_floats(t.wv.f32, s.wv.f32, kv * d, "attn_v");
    expect_floats(t.wo.f32, s.wo.f32, d * d, "attn_output");
    expect_floats(t.rms_ffn, s.rms_ffn, d, "ffn_norm");
    expect_floats(t.w1.f32, s.w1.f32, h * d, "ffn_gate");
    expect_floats(t.w2.f32, s.w2.f32, d * h, "ffn_down");
    expect_floats(t.w3.f32, s.w3.f32, h * d, "ffn_up");
  }
  for (const char* text : {"Once upon a time", "Lily's \"big\" day — naïve 🙂\n", " x"})
    EXPECT_EQ(b->tokenizer.encode(text, true, false), a->tokenizer.encode(text, true, false)) << text;
}

// Greedy text of `n` tokens from the checkpoint and from the GGUF, at f32 and f16 weights.
void expect_same_text(const std::string& bin, const std::string& tok, const std::string& gguf, int n,
                      std::size_t min_bytes) {
  for (const char* weights : {"f32", "f16"}) {
    const std::string args = " -t 0 -p 'Once upon a time' -n " + std::to_string(n) + " --weights " + weights + " 2>/dev/null";
    const std::string want = run(kLadle + " generate --model " + bin + " --tokenizer " + tok + args);
    EXPECT_GT(want.size(), min_bytes) << weights;
    EXPECT_EQ(run(kLadle + " generate --model " + gguf + args), want) << weights;
  }
}

TEST(GgufLlamaCpp, CommittedConverterFileIsTheCheckpoint) {
  model::ModelConfig c;
  c.dim = 16; c.hidden_dim = 48; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
  c.vocab_size = 300; c.seq_len = 128;
  const std::string bin = temp("tiny.bin"), tok = temp("tiny_tok.bin");
  ASSERT_TRUE(model::write_synthetic_checkpoint(bin, c, 42).ok());
  ASSERT_TRUE(model::write_synthetic_tokenizer(tok, c.vocab_size).ok());
  const std::string gguf = kData + "/llama_cpp_tiny.gguf";
  ASSERT_TRUE(std::filesystem::exists(gguf)) << gguf;
  expect_same_model(bin, tok, gguf);
  expect_same_text(bin, tok, gguf, 100, 50);
}

TEST(GgufLlamaCpp, Stories260KConvertedByLlamaCpp) {
  if (kConverter.empty()) GTEST_SKIP() << "set the CMake variable LADLE_LLAMA2C_CONVERTER to llama-convert-llama2c-to-ggml";
  const std::string bin = kModels + "/stories260K.bin", tok = kModels + "/tok512.bin", gguf = temp("s260.gguf");
  std::filesystem::remove(gguf);
  run(kConverter + " --copy-vocab-from-model " + tok + " --llama2c-model " + bin + " --llama2c-output-model " + gguf +
      " > /dev/null 2>&1");
  ASSERT_TRUE(std::filesystem::exists(gguf)) << "the converter wrote nothing";
  expect_same_model(bin, tok, gguf);
  expect_same_text(bin, tok, gguf, 120, 250);  // 5 prompt + 120 new tokens: within its context of 128
}

}  // namespace
}  // namespace ladle::tools
