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
// - With the CMake variable LADLE_LLAMA_QUANTIZE set to llama.cpp's llama-quantize, a synthetic
//   model is quantized to Q4_K_M, Q5_K_M, Q6_K and Q4_1 (the shape makes ffn_down fall back to
//   Q5_0, Q5_1 and Q8_0), and every weight ladle widens from those files is compared bit for bit
//   with ggml's own dequantization (llama-quantize --allow-requantize to F32, which runs ggml's
//   type traits' to_float); otherwise that test skips.
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <vector>
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
const std::string kQuantize = LADLE_LLAMA_QUANTIZE;

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

// Every weight of `q` equals `p`'s, bit for bit (a tied classifier compares as the embedding).
void expect_same_weights(const model::Weights& p, const model::Weights& q, const std::string& what) {
  const model::ModelConfig& x = p.config();
  ASSERT_EQ(q.config().dim, x.dim) << what;
  ASSERT_EQ(q.config().hidden_dim, x.hidden_dim) << what;
  ASSERT_EQ(q.config().n_layers, x.n_layers) << what;
  const std::size_t d = x.dim, h = x.hidden_dim, kv = x.kv_dim(), v = x.vocab_size;
  expect_floats(q.token_embedding(), p.token_embedding(), v * d, what + " token_embd");
  expect_floats(q.classifier().f32, p.classifier().f32, v * d, what + " output");
  expect_floats(q.rms_final(), p.rms_final(), d, what + " output_norm");
  for (int l = 0; l < x.n_layers; ++l) {
    const model::LayerWeights &s = p.layer(l), &t = q.layer(l);
    const std::string b = what + " blk." + std::to_string(l) + ".";
    expect_floats(t.rms_att, s.rms_att, d, b + "attn_norm");
    expect_floats(t.wq.f32, s.wq.f32, d * d, b + "attn_q");
    expect_floats(t.wk.f32, s.wk.f32, kv * d, b + "attn_k");
    expect_floats(t.wv.f32, s.wv.f32, kv * d, b + "attn_v");
    expect_floats(t.wo.f32, s.wo.f32, d * d, b + "attn_output");
    expect_floats(t.rms_ffn, s.rms_ffn, d, b + "ffn_norm");
    expect_floats(t.w1.f32, s.w1.f32, h * d, b + "ffn_gate");
    expect_floats(t.w2.f32, s.w2.f32, d * h, b + "ffn_down");
    expect_floats(t.w3.f32, s.w3.f32, h * d, b + "ffn_up");
  }
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
  expect_same_weights(a->weights, b->weights, "");
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

// The ggml types llama-quantize wrote into `gguf`, from its log ("converting to q4_K").
std::string quantized_types(const std::string& log) {
  std::set<std::string> types;
  for (std::size_t at = log.find("converting to "); at != std::string::npos; at = log.find("converting to ", at + 1))
    types.insert(log.substr(at + 14, log.find(' ', at + 14) - at - 14));
  std::string out;
  for (const std::string& t : types) out += (out.empty() ? "" : ",") + t;
  return out;
}

TEST(GgufLlamaCpp, KQuantsWidenAsGgmlDoes) {
  if (kQuantize.empty()) GTEST_SKIP() << "set the CMake variable LADLE_LLAMA_QUANTIZE to llama.cpp's llama-quantize";
  // Rows of 256 (whole K-quant super-blocks) but ffn_down's rows of 704, which llama-quantize
  // cannot store in a K-quant: it falls back to Q5_0 (Q4_K), Q5_1 (Q5_K) and Q8_0 (Q6_K).
  model::ModelConfig c;
  c.dim = 256; c.hidden_dim = 704; c.n_layers = 2; c.n_heads = 4; c.n_kv_heads = 2;
  c.vocab_size = 512; c.seq_len = 256; c.shared_classifier = false;
  const std::string bin = temp("kq.bin"), tok = temp("kq_tok.bin"), gguf = temp("kq.gguf");
  ASSERT_TRUE(model::write_synthetic_checkpoint(bin, c, 7).ok());
  ASSERT_TRUE(model::write_synthetic_tokenizer(tok, c.vocab_size).ok());
  run(kLadle + " export-gguf -m " + bin + " -z " + tok + " -o " + gguf + " > /dev/null 2>&1");
  // What each file must hold, so that every new type is checked against ggml at least once.
  struct Case {
    std::string options, ftype, types;
  };
  const std::vector<Case> cases = {{"", "Q4_K_M", "q4_K,q5_0,q6_K,q8_0"},
                                   {"", "Q5_K_M", "q5_1,q5_K,q6_K,q8_0"},
                                   {"", "Q6_K", "q6_K,q8_0"},
                                   {"--pure ", "Q4_1", "q4_1"}};
  for (const auto& [options, ftype, types] : cases) {
    const std::string q = temp("kq_q.gguf"), f = temp("kq_q_f32.gguf");
    std::filesystem::remove(q);
    std::filesystem::remove(f);
    const std::string log = run(kQuantize + " " + options + gguf + " " + q + " " + ftype + " 2>&1");
    EXPECT_EQ(quantized_types(log), types) << ftype << ": llama-quantize chose other types\n" << log;
    // ggml's to_float of every quantized tensor, written as F32.
    run(kQuantize + " --allow-requantize " + q + " " + f + " F32 > /dev/null 2>&1");
    auto a = model::load_model(f, "");
    ASSERT_TRUE(a.ok()) << ftype << ": " << a.error().message;
    auto b = model::load_model(q, "");
    ASSERT_TRUE(b.ok()) << ftype << ": " << b.error().message;
    expect_same_weights(a->weights, b->weights, ftype);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace ladle::tools
