// `ladle export-gguf` and back: a checkpoint exported to GGUF loads through model::load_model as
// the very same model: the same config, every tensor bit for bit (F32; F16 as the half-rounded
// values), the tokenizer giving the same ids; and `ladle generate` prints the same greedy text
// from the .gguf as from the .bin (stories260K at f32 and f16, synthetic GQA shapes with tied and
// untied classifiers). Also the command-line refusals of a GGUF with --tokenizer or a bad file.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "model/checkpoint_writer.h"
#include "model/ggml_dequantize.h"
#include "model/half.h"
#include "model/model_file.h"
#include "model/tokenizer_writer.h"
#include "tools/gguf_export.h"

namespace ladle::tools {
namespace {

using model::ModelConfig;
using model::Weights;

const std::string kModels = LADLE_MODELS_DIR;
const std::string kLadle = std::string(LADLE_BINARY_DIR) + "/ladle";

std::string temp(const std::string& name) { return ::testing::TempDir() + "/ladle_gguf_rt_" + name; }

// Runs a command; its stdout, and its exit status in `status`.
std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int st = pclose(p);
  if (status) *status = st;
  else EXPECT_EQ(st, 0) << cmd;
  return out;
}

std::string export_to(const std::string& bin, const std::string& tok, const std::string& out, GgmlType type) {
  GgufExportOptions o;
  o.checkpoint = bin;
  o.tokenizer = tok;
  o.out = out;
  o.type = type;
  auto s = export_gguf(o);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return out;
}

// Every float of `n` at `got` equals `want` as `type` holds it (F16: rounded to half and back).
void expect_tensor(const float* got, const float* want, std::size_t n, GgmlType type, const std::string& what) {
  ASSERT_NE(got, nullptr) << what;
  for (std::size_t i = 0; i < n; ++i) {
    const float w = type == GgmlType::kF16 ? model::half_to_float(model::float_to_half(want[i])) : want[i];
    ASSERT_EQ(std::bit_cast<std::uint32_t>(got[i]), std::bit_cast<std::uint32_t>(w)) << what << " element " << i;
  }
}

// A matrix's n values as the GGUF holds them: an F32 view, or its F16 blocks widened.
std::vector<float> values(const model::Matrix& m, std::size_t n) {
  std::vector<float> out(n);
  if (m.f32) std::copy(m.f32, m.f32 + n, out.begin());
  else if (m.ggml.data) model::dequantize(m.ggml.type, m.ggml.data, out.data(), n);
  else out.clear();
  return out;
}

// The token embedding, row by row as the forward pass reads it.
std::vector<float> embedding(const Weights& w) {
  const std::size_t d = w.config().dim, v = w.config().vocab_size;
  std::vector<float> out(v * d);
  for (std::size_t t = 0; t < v; ++t) w.embedding_row(int(t), out.data() + t * d);
  return out;
}

void expect_matrix(const model::Matrix& got, const model::Matrix& want, std::size_t n, GgmlType type,
                   const std::string& what) {
  const std::vector<float> g = values(got, n);
  ASSERT_EQ(g.size(), n) << what << ": neither fp32 values nor blocks";
  // F32 tensors are used in place; F16 ones stay in the file's blocks (no fp32 copy).
  EXPECT_EQ(got.f32 == nullptr, type != GgmlType::kF32) << what;
  expect_tensor(g.data(), want.f32, n, type, what);
}

void expect_same_model(const model::LoadedModel& bin, const model::LoadedModel& gguf, GgmlType type) {
  const ModelConfig &a = bin.weights.config(), &b = gguf.weights.config();
  EXPECT_EQ(std::string(gguf.format), "gguf");
  EXPECT_EQ(b.dim, a.dim);
  EXPECT_EQ(b.hidden_dim, a.hidden_dim);
  EXPECT_EQ(b.n_layers, a.n_layers);
  EXPECT_EQ(b.n_heads, a.n_heads);
  EXPECT_EQ(b.n_kv_heads, a.n_kv_heads);
  EXPECT_EQ(b.vocab_size, a.vocab_size);
  EXPECT_EQ(b.seq_len, a.seq_len);
  EXPECT_EQ(b.shared_classifier, a.shared_classifier);
  EXPECT_EQ(b.rope_theta, a.rope_theta);
  EXPECT_EQ(b.norm_eps, a.norm_eps);
  const std::size_t d = a.dim, h = a.hidden_dim, kv = a.kv_dim(), v = a.vocab_size;
  const Weights &x = bin.weights, &y = gguf.weights;
  expect_tensor(embedding(y).data(), x.token_embedding(), v * d, type, "token_embd");
  for (int l = 0; l < a.n_layers; ++l) {
    const model::LayerWeights &p = x.layer(l), &q = y.layer(l);
    const std::string n = "layer " + std::to_string(l) + " ";
    expect_tensor(q.rms_att, p.rms_att, d, GgmlType::kF32, n + "rms_att");  // norms stay F32
    expect_matrix(q.wq, p.wq, d * d, type, n + "wq");
    expect_matrix(q.wk, p.wk, kv * d, type, n + "wk");
    expect_matrix(q.wv, p.wv, kv * d, type, n + "wv");
    expect_matrix(q.wo, p.wo, d * d, type, n + "wo");
    expect_tensor(q.rms_ffn, p.rms_ffn, d, GgmlType::kF32, n + "rms_ffn");
    expect_matrix(q.w1, p.w1, h * d, type, n + "w1");
    expect_matrix(q.w2, p.w2, d * h, type, n + "w2");
    expect_matrix(q.w3, p.w3, h * d, type, n + "w3");
  }
  expect_tensor(y.rms_final(), x.rms_final(), d, GgmlType::kF32, "rms_final");
  if (a.shared_classifier) {
    EXPECT_EQ(y.classifier().f32, y.token_embedding());  // the embedding, compared above
  } else {
    expect_matrix(y.classifier(), x.classifier(), v * d, type, "classifier");
  }
  for (const char* text : {"Once upon a time", "a dog, a cat; 42 — ünïcödé 🙂", ""})
    EXPECT_EQ(gguf.tokenizer.encode(text, true, false), bin.tokenizer.encode(text, true, false)) << text;
}

TEST(GgufRoundTrip, Stories260KLoadsBitIdentically) {
  const std::string bin = kModels + "/stories260K.bin", tok = kModels + "/tok512.bin";
  auto from_bin = model::load_model(bin, tok);
  ASSERT_TRUE(from_bin.ok()) << from_bin.error().message;
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16}) {
    const std::string gguf = export_to(bin, tok, temp(type == GgmlType::kF16 ? "s260_f16.gguf" : "s260.gguf"), type);
    auto from_gguf = model::load_model(gguf, "");
    ASSERT_TRUE(from_gguf.ok()) << from_gguf.error().message;
    expect_same_model(*from_bin, *from_gguf, type);
  }
}

TEST(GgufRoundTrip, SyntheticShapesLoadBitIdentically) {
  for (bool shared : {true, false}) {
    ModelConfig c;
    c.dim = 48; c.hidden_dim = 80; c.n_layers = 3; c.n_heads = 6; c.n_kv_heads = 2;
    c.vocab_size = 300; c.seq_len = 40; c.shared_classifier = shared;
    const std::string bin = temp(shared ? "syn_tied.bin" : "syn_untied.bin"), tok = temp("syn_tok.bin");
    ASSERT_TRUE(model::write_synthetic_checkpoint(bin, c, 3).ok());
    ASSERT_TRUE(model::write_synthetic_tokenizer(tok, c.vocab_size).ok());
    auto from_bin = model::load_model(bin, tok);
    ASSERT_TRUE(from_bin.ok()) << from_bin.error().message;
    for (GgmlType type : {GgmlType::kF32, GgmlType::kF16}) {
      const std::string gguf = export_to(bin, tok, bin + (type == GgmlType::kF16 ? ".f16.gguf" : ".gguf"), type);
      auto from_gguf = model::load_model(gguf, "");
      ASSERT_TRUE(from_gguf.ok()) << from_gguf.error().message;
      expect_same_model(*from_bin, *from_gguf, type);
      // And the same greedy text, through the whole engine.
      const std::string args = " -t 0 -n 30 -p 'the cat' --weights " +
                               std::string(type == GgmlType::kF16 ? "f16" : "f32") + " 2>/dev/null";
      const std::string want = run(kLadle + " generate --model " + bin + " --tokenizer " + tok + args);
      EXPECT_GT(want.size(), 20u);
      EXPECT_EQ(run(kLadle + " generate --model " + gguf + args), want);
    }
  }
}

TEST(GgufRoundTrip, Stories260KGeneratesTheSameGreedyText) {
  const std::string bin = kModels + "/stories260K.bin", tok = kModels + "/tok512.bin";
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16}) {
    const std::string gguf = export_to(bin, tok, temp(type == GgmlType::kF16 ? "gen_f16.gguf" : "gen.gguf"), type);
    const std::string args = std::string(" -t 0 -n 200 -p 'Once upon a time' --weights ") +
                             (type == GgmlType::kF16 ? "f16" : "f32") + " 2>/dev/null";
    const std::string want = run(kLadle + " generate --model " + bin + " --tokenizer " + tok + args);
    ASSERT_GT(want.size(), 400u);
    EXPECT_EQ(run(kLadle + " generate --model " + gguf + args), want);
  }
}

TEST(GgufRoundTrip, CommandLineRefusesTokenizerFlagAndBadFiles) {
  const std::string gguf = export_to(kModels + "/stories260K.bin", kModels + "/tok512.bin", temp("cli.gguf"), GgmlType::kF32);
  int status = 0;
  std::string out = run(kLadle + " generate --model " + gguf + " --tokenizer " + kModels + "/tok512.bin -n 1 2>&1", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("carries its own tokenizer"), std::string::npos) << out;
  // A GGUF cut short is refused by name, not crashed on.
  std::ifstream in(gguf, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  bytes.resize(bytes.size() - 100);
  const std::string cut = temp("cut.gguf");
  std::ofstream(cut, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  out = run(kLadle + " generate --model " + cut + " -n 1 2>&1", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("gguf " + cut + ": tensor 'output_norm.weight'"), std::string::npos) << out;
  EXPECT_NE(out.find("lies outside the file"), std::string::npos) << out;
}

}  // namespace
}  // namespace ladle::tools
