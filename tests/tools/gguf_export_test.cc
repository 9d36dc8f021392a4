// export_gguf and `ladle export-gguf`: a synthetic checkpoint (with distinct norm weights, so that
// swapped tensors show) exported at F32 and F16 and read back by the independent test reader:
// every llama.cpp key with its type and value, the vocabulary in SentencePiece's spelling, tensor
// names, shapes, types, 32-byte alignment, and every tensor's bytes against the checkpoint's
// floats read straight from the .bin. Also the unshared classifier, stories260K, and refusals.
#include "tools/gguf_export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "model/checkpoint_writer.h"
#include "model/half.h"
#include "model/tokenizer_writer.h"
#include "tests/tools/gguf_reader.h"

namespace ladle::tools {
namespace {

namespace fs = std::filesystem;
using model::ModelConfig;
using testing_gguf::File;
using testing_gguf::Reader;

const std::string kModels = LADLE_MODELS_DIR;
const std::string kLadle = std::string(LADLE_BINARY_DIR) + "/ladle";

std::string temp(const std::string& name) { return ::testing::TempDir() + "/ladle_gguf_export_" + name; }

// GQA (2 heads, 1 kv head) at sizes whose tensors are not multiples of 32 bytes (a norm is 80,
// the embedding 32080), so the writer's padding is exercised.
ModelConfig small(bool shared) {
  ModelConfig c;
  c.dim = 20; c.hidden_dim = 36; c.n_layers = 2; c.n_heads = 2; c.n_kv_heads = 1;
  c.vocab_size = 401; c.seq_len = 16; c.shared_classifier = shared;
  return c;
}

// The tensors a GGUF export must hold, with where their floats sit in the checkpoint (counted in
// floats after the 7-int header, in run.c's order), spelled out here independently of the exporter.
struct WantTensor {
  std::string name;
  std::vector<std::uint64_t> ne;
  std::size_t offset;
  bool norm;
};

std::vector<WantTensor> expected_tensors(const ModelConfig& c) {
  const std::size_t d = c.dim, h = c.hidden_dim, L = c.n_layers, v = c.vocab_size;
  const std::size_t kv = std::size_t(c.n_kv_heads) * (d / c.n_heads);
  const std::size_t emb = 0, rms_att = v * d, wq = rms_att + L * d, wk = wq + L * d * d, wv = wk + L * kv * d,
                    wo = wv + L * kv * d, rms_ffn = wo + L * d * d, w1 = rms_ffn + L * d, w2 = w1 + L * h * d,
                    w3 = w2 + L * d * h, rms_final = w3 + L * h * d,
                    wcls = rms_final + d + std::size_t(c.seq_len) * (d / c.n_heads);
  std::vector<WantTensor> t = {{"token_embd.weight", {d, v}, emb, false}};
  for (std::size_t l = 0; l < L; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    t.push_back({b + "attn_norm.weight", {d}, rms_att + l * d, true});
    t.push_back({b + "attn_q.weight", {d, d}, wq + l * d * d, false});
    t.push_back({b + "attn_k.weight", {d, kv}, wk + l * kv * d, false});
    t.push_back({b + "attn_v.weight", {d, kv}, wv + l * kv * d, false});
    t.push_back({b + "attn_output.weight", {d, d}, wo + l * d * d, false});
    t.push_back({b + "ffn_norm.weight", {d}, rms_ffn + l * d, true});
    t.push_back({b + "ffn_gate.weight", {d, h}, w1 + l * h * d, false});
    t.push_back({b + "ffn_down.weight", {h, d}, w2 + l * d * h, false});
    t.push_back({b + "ffn_up.weight", {d, h}, w3 + l * h * d, false});
  }
  t.push_back({"output_norm.weight", {d}, rms_final, true});
  if (!c.shared_classifier) t.push_back({"output.weight", {d, v}, wcls, false});
  return t;
}

// The floats of a checkpoint file after its header.
std::vector<float> checkpoint_floats(const std::string& path) {
  const std::vector<char> bytes = testing_gguf::read_all(path);
  std::vector<float> f((bytes.size() - 28) / 4);
  std::memcpy(f.data(), bytes.data() + 28, f.size() * 4);
  return f;
}

// A synthetic checkpoint whose norm weights (all 1 from the writer) are made distinct, plus a
// synthetic tokenizer of `tokenizer_vocab` pieces.
void write_model(const std::string& bin, const std::string& tok, const ModelConfig& c, int tokenizer_vocab) {
  ASSERT_TRUE(model::write_synthetic_checkpoint(bin, c, 7).ok());
  std::vector<char> bytes = testing_gguf::read_all(bin);
  int k = 0;
  for (const WantTensor& e : expected_tensors(c))
    if (e.norm)
      for (std::size_t i = 0; i < e.ne[0]; ++i) {
        const float v = 1.0f + 0.001f * float(++k);
        std::memcpy(bytes.data() + 28 + (e.offset + i) * 4, &v, 4);
      }
  std::ofstream(bin, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(model::write_synthetic_tokenizer(tok, tokenizer_vocab).ok());
}

File export_and_read(const GgufExportOptions& o) {
  auto summary = export_gguf(o);
  EXPECT_TRUE(summary.ok()) << summary.error().message;
  Reader r(testing_gguf::read_all(o.out));
  EXPECT_TRUE(r.parse()) << r.error();
  return r.take();
}

void expect_u32(const File& f, const std::string& key, double value) {
  ASSERT_TRUE(f.kv.count(key)) << key;
  EXPECT_EQ(f.kv.at(key).type, testing_gguf::kU32) << key;
  EXPECT_EQ(f.kv.at(key).number(), value) << key;
}

void expect_hparams(const File& f, const ModelConfig& c, double file_type) {
  EXPECT_EQ(f.kv.at("general.architecture").type, testing_gguf::kString);
  EXPECT_EQ(f.kv.at("general.architecture").string(), "llama");
  EXPECT_EQ(f.kv.at("general.name").type, testing_gguf::kString);
  expect_u32(f, "general.alignment", 32);
  expect_u32(f, "general.file_type", file_type);
  expect_u32(f, "llama.context_length", c.seq_len);
  expect_u32(f, "llama.embedding_length", c.dim);
  expect_u32(f, "llama.block_count", c.n_layers);
  expect_u32(f, "llama.feed_forward_length", c.hidden_dim);
  expect_u32(f, "llama.rope.dimension_count", c.dim / c.n_heads);
  expect_u32(f, "llama.attention.head_count", c.n_heads);
  expect_u32(f, "llama.attention.head_count_kv", c.n_kv_heads);
  expect_u32(f, "llama.vocab_size", c.vocab_size);
  EXPECT_EQ(f.kv.at("llama.attention.layer_norm_rms_epsilon").type, testing_gguf::kF32);
  EXPECT_EQ(float(f.kv.at("llama.attention.layer_norm_rms_epsilon").number()), 1e-5f);  // run.c's
  EXPECT_EQ(float(f.kv.at("llama.rope.freq_base").number()), 10000.0f);
  EXPECT_EQ(f.kv.at("tokenizer.ggml.model").string(), "llama");
  expect_u32(f, "tokenizer.ggml.bos_token_id", 1);
  expect_u32(f, "tokenizer.ggml.eos_token_id", 2);
  expect_u32(f, "tokenizer.ggml.unknown_token_id", 0);
  EXPECT_EQ(f.kv.at("tokenizer.ggml.add_bos_token").type, testing_gguf::kBool);
  EXPECT_EQ(f.kv.at("tokenizer.ggml.add_bos_token").number(), 1.0);
  EXPECT_EQ(f.kv.at("tokenizer.ggml.add_eos_token").type, testing_gguf::kBool);
  EXPECT_EQ(f.kv.at("tokenizer.ggml.add_eos_token").number(), 0.0);
}

// Tokens in SentencePiece's spelling: "▁" for spaces, BOS/EOS as <s>/</s> (control), byte pieces
// typed 6, <unk> typed 2; scores as in tokenizer.bin.
void expect_vocab(const File& f, const std::vector<std::string>& pieces, const std::vector<float>& scores) {
  const auto& tokens = f.kv.at("tokenizer.ggml.tokens");
  const auto& sc = f.kv.at("tokenizer.ggml.scores");
  const auto& types = f.kv.at("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.type, testing_gguf::kArray);
  ASSERT_EQ(tokens.element_type, testing_gguf::kString);
  ASSERT_EQ(sc.element_type, testing_gguf::kF32);
  ASSERT_EQ(types.element_type, testing_gguf::kI32);
  ASSERT_EQ(tokens.strings.size(), pieces.size());
  ASSERT_EQ(sc.numbers.size(), pieces.size());
  ASSERT_EQ(types.numbers.size(), pieces.size());
  EXPECT_EQ(tokens.strings[0], "<unk>");
  EXPECT_EQ(types.numbers[0], 2);
  EXPECT_EQ(tokens.strings[1], "<s>");
  EXPECT_EQ(types.numbers[1], 3);
  EXPECT_EQ(tokens.strings[2], "</s>");
  EXPECT_EQ(types.numbers[2], 3);
  for (int b = 0; b < 256; ++b) {
    char want[8];
    std::snprintf(want, sizeof want, "<0x%02X>", b);
    EXPECT_EQ(tokens.strings[3 + b], want);
    EXPECT_EQ(types.numbers[3 + b], 6) << want;
  }
  int spaced = 0;
  for (std::size_t i = 259; i < pieces.size(); ++i) {
    std::string want;
    for (char ch : pieces[i]) ch == ' ' ? (void)want.append("\xE2\x96\x81") : want.push_back(ch);
    spaced += want != pieces[i];
    EXPECT_EQ(tokens.strings[i], want) << "token " << i;
    EXPECT_EQ(types.numbers[i], 1) << "token " << i;
  }
  EXPECT_GT(spaced, 10);  // the vocabularies here have many " word" pieces
  for (std::size_t i = 0; i < pieces.size(); ++i) EXPECT_EQ(float(sc.numbers[i]), scores[i]) << "score " << i;
}

// Names, shapes, types, alignment and bytes of every tensor against the checkpoint's floats.
void expect_tensors(const File& f, const ModelConfig& c, const std::vector<float>& ckpt, bool f16) {
  const std::vector<WantTensor> want = expected_tensors(c);
  ASSERT_EQ(f.num_tensors, want.size());
  ASSERT_EQ(f.tensors.size(), want.size());
  EXPECT_EQ(f.data_start % 32, 0u);
  std::map<std::string, const testing_gguf::TensorInfo*> by_name;
  for (const auto& t : f.tensors) by_name[t.name] = &t;
  ASSERT_EQ(by_name.size(), want.size()) << "duplicate tensor names";
  for (const WantTensor& e : want) {
    ASSERT_TRUE(by_name.count(e.name)) << e.name;
    const testing_gguf::TensorInfo& t = *by_name[e.name];
    EXPECT_EQ(t.ne, e.ne) << e.name;
    EXPECT_EQ(t.type, (f16 && !e.norm) ? 1u : 0u) << e.name;
    EXPECT_EQ(t.offset % 32, 0u) << e.name;
    std::size_t n = 1;
    for (auto d : e.ne) n *= d;
    const char* data = f.data(t);
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const float x = ckpt[e.offset + i];
      if (t.type == 1) {
        std::uint16_t h;
        std::memcpy(&h, data + 2 * i, 2);
        mismatches += h != model::float_to_half(x);
      } else {
        mismatches += std::memcmp(data + 4 * i, &x, 4) != 0;
      }
    }
    EXPECT_EQ(mismatches, 0u) << e.name;
  }
  // Tensors do not overlap and the file ends with the last one's padded data.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> spans;
  for (const auto& t : f.tensors) spans.push_back({t.offset, t.offset + Reader::nbytes(t)});
  std::sort(spans.begin(), spans.end());
  for (std::size_t i = 1; i < spans.size(); ++i) EXPECT_LE(spans[i - 1].second, spans[i].first);
  EXPECT_EQ(f.bytes.size(), f.data_start + (spans.back().second + 31) / 32 * 32);
}

std::vector<std::string> synthetic_pieces(int vocab) { return *model::synthetic_tokenizer_pieces(vocab); }
std::vector<float> synthetic_scores(int vocab) {
  std::vector<float> s(vocab, 0.0f);
  for (int i = 259; i < vocab; ++i) s[i] = -float(i - 259);
  return s;
}

TEST(GgufExport, SharedClassifierAtF32AndF16) {
  const ModelConfig c = small(true);
  const std::string bin = temp("shared.bin"), tok = temp("shared_tok.bin");
  write_model(bin, tok, c, c.vocab_size);
  const std::vector<float> ckpt = checkpoint_floats(bin);
  for (bool f16 : {false, true}) {
    SCOPED_TRACE(f16 ? "f16" : "f32");
    GgufExportOptions o{bin, tok, temp(f16 ? "shared16.gguf" : "shared32.gguf"), "", f16 ? GgmlType::kF16 : GgmlType::kF32};
    const File f = export_and_read(o);
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(f.num_kv, f.kv.size());
    EXPECT_EQ(f.num_kv, 23u);
    expect_hparams(f, c, f16 ? 1 : 0);
    EXPECT_EQ(f.kv.at("general.name").string(), "ladle_gguf_export_shared");
    expect_vocab(f, synthetic_pieces(c.vocab_size), synthetic_scores(c.vocab_size));
    expect_tensors(f, c, ckpt, f16);
    EXPECT_FALSE(fs::exists(o.out + ".partial"));
  }
}

TEST(GgufExport, UnsharedClassifierBecomesOutputWeight) {
  const ModelConfig c = small(false);
  const std::string bin = temp("unshared.bin"), tok = temp("unshared_tok.bin");
  write_model(bin, tok, c, c.vocab_size);
  const std::vector<float> ckpt = checkpoint_floats(bin);
  for (bool f16 : {false, true}) {
    GgufExportOptions o{bin, tok, temp("unshared.gguf"), "my model", f16 ? GgmlType::kF16 : GgmlType::kF32};
    const File f = export_and_read(o);
    EXPECT_EQ(f.kv.at("general.name").string(), "my model");
    expect_tensors(f, c, ckpt, f16);  // includes output.weight = the checkpoint's wcls
  }
}

TEST(GgufExport, Stories260KWithTok512) {
  const std::string out = temp("stories260K.gguf");
  const File f = export_and_read({kModels + "/stories260K.bin", kModels + "/tok512.bin", out, "", GgmlType::kF32});
  ModelConfig c;
  c.dim = 64; c.hidden_dim = 172; c.n_layers = 5; c.n_heads = 8; c.n_kv_heads = 4;
  c.vocab_size = 512; c.seq_len = 512; c.shared_classifier = true;
  expect_hparams(f, c, 0);
  EXPECT_EQ(f.kv.at("general.name").string(), "stories260K");
  EXPECT_EQ(f.tensors.size(), 47u);
  expect_tensors(f, c, checkpoint_floats(kModels + "/stories260K.bin"), false);
  const auto& tokens = f.kv.at("tokenizer.ggml.tokens").strings;
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[261], "\xE2\x96\x81" "a");      // " a" in tok512.bin (REFERENCE.md's trace)
  EXPECT_EQ(tokens[403], "\xE2\x96\x81" "Once");
  for (const std::string& t : tokens) EXPECT_EQ(t.find(' '), std::string::npos) << t;
}

// Runs `args` through the ladle binary; returns its exit status and its stderr.
std::pair<int, std::string> ladle(const std::string& args) {
  FILE* p = popen((kLadle + " export-gguf " + args + " 2>&1 >/dev/null").c_str(), "r");
  if (!p) return {-1, ""};
  std::array<char, 4096> buf;
  std::string err;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) err.append(buf.data(), n);
  return {pclose(p), err};
}

TEST(GgufExport, RefusesATruncatedCheckpoint) {
  const std::string bin = temp("trunc.bin"), tok = temp("trunc_tok.bin"), out = temp("trunc.gguf");
  write_model(bin, tok, small(true), 401);
  fs::resize_file(bin, fs::file_size(bin) - 4);
  fs::remove(out);
  auto r = export_gguf({bin, tok, out, "", GgmlType::kF32});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(out));
  const auto [status, err] = ladle("-m " + bin + " -z " + tok + " -o " + out);
  EXPECT_NE(status, 0);
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
}

TEST(GgufExport, RefusesATokenizerOfAnotherVocabulary) {
  const std::string bin = temp("mismatch.bin"), tok = temp("mismatch_tok.bin"), out = temp("mismatch.gguf");
  for (int tokenizer_vocab : {380, 420}) {
    write_model(bin, tok, small(true), tokenizer_vocab);
    auto r = export_gguf({bin, tok, out, "", GgmlType::kF32});
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("vocab_size is 401"), std::string::npos) << r.error().message;
    EXPECT_FALSE(fs::exists(out));
  }
}

TEST(GgufExport, RefusesAnUnwritableOutputOrAnInput) {
  const std::string bin = temp("io.bin"), tok = temp("io_tok.bin");
  write_model(bin, tok, small(true), 401);
  auto r = export_gguf({bin, tok, "/nonexistent-dir/m.gguf", "", GgmlType::kF32});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cannot create /nonexistent-dir/m.gguf"), std::string::npos) << r.error().message;
  const auto size = fs::file_size(bin);
  r = export_gguf({bin, tok, bin, "", GgmlType::kF32});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("is the input"), std::string::npos) << r.error().message;
  EXPECT_EQ(fs::file_size(bin), size);
}

// A weight beyond the half range fails at F16 with the tensor named, mid-way through the data: the
// old output file stays and no partial one is left. At F32 the same checkpoint exports.
TEST(GgufExport, RefusesAWeightThatDoesNotFitAHalf) {
  const ModelConfig c = small(true);
  const std::string bin = temp("big.bin"), tok = temp("big_tok.bin"), out = temp("big.gguf");
  write_model(bin, tok, c, 401);
  std::vector<char> bytes = testing_gguf::read_all(bin);
  const float big = 1e6f;
  const WantTensor down1 = expected_tensors(c)[17];
  ASSERT_EQ(down1.name, "blk.1.ffn_down.weight");
  std::memcpy(bytes.data() + 28 + (down1.offset + 5) * 4, &big, 4);
  std::ofstream(bin, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
  std::ofstream(out) << "old";
  auto r = export_gguf({bin, tok, out, "", GgmlType::kF16});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("blk.1.ffn_down.weight element 5 is 1e+06"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(fs::file_size(out), 3u);
  EXPECT_FALSE(fs::exists(out + ".partial"));
  EXPECT_TRUE(export_gguf({bin, tok, out, "", GgmlType::kF32}).ok());
}

TEST(GgufExport, CommandLine) {
  const std::string bin = temp("cli.bin"), tok = temp("cli_tok.bin"), out = temp("cli.gguf");
  write_model(bin, tok, small(false), 401);
  auto [status, err] = ladle("-m " + bin + " -z " + tok + " -o " + out + " --type f16");
  EXPECT_EQ(status, 0) << err;
  EXPECT_NE(err.find("f16, dim 20"), std::string::npos) << err;
  Reader r(testing_gguf::read_all(out));
  ASSERT_TRUE(r.parse()) << r.error();
  EXPECT_EQ(r.file().kv.at("general.file_type").number(), 1.0);
  std::tie(status, err) = ladle("-m " + bin + " -z " + tok + " -o " + out + " --type q4_0");
  EXPECT_NE(status, 0);
  EXPECT_NE(err.find("--type must be f32 or f16, not 'q4_0'"), std::string::npos) << err;
  std::tie(status, err) = ladle("-m " + bin + " -z " + tok);
  EXPECT_NE(status, 0);
  EXPECT_NE(err.find("--out is required"), std::string::npos) << err;
}

}  // namespace
}  // namespace ladle::tools
