// write_synthetic_gguf: random weights in llama.cpp's layout plus a copied vocabulary (see
// synthetic_gguf.h).
#include "tools/synthetic_gguf.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>
#include <numbers>
#include <vector>

#include "model/gguf_file.h"
#include "model/half.h"
#include "model/tokenizer_writer.h"
#include "tools/gguf_export.h"

namespace ladle::tools {
namespace {

// Values generated and converted per write: 256 Ki of them.
constexpr std::size_t kChunk = std::size_t(1) << 18;

// splitmix64 → 24-bit uniform in [0, 1), as model/checkpoint_writer.cc draws them.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  float next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return float((z ^ (z >> 31)) >> 40) / 16777216.0f;
  }

 private:
  std::uint64_t state_;
};

// One tensor to write: its name, ggml shape, type, and how its values are drawn — uniform in
// [lo, hi), or the given values.
struct TensorSpec {
  std::string name;
  std::vector<std::int64_t> ne;
  GgmlType type;
  float lo = 0, hi = 0;
  std::vector<float> values;  // when not empty: the tensor's values as they are
};

std::size_t num_elements(const TensorSpec& t) {
  std::size_t n = 1;
  for (std::int64_t x : t.ne) n *= std::size_t(x);
  return n;
}

// ggml's fp32 → bf16: round to nearest even (ggml_compute_fp32_to_bf16); our values are finite.
std::uint16_t float_to_bf16(float f) {
  const auto u = std::bit_cast<std::uint32_t>(f);
  return std::uint16_t((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

// Llama 3.1's per-frequency divisors, exactly as llama.cpp's converter computes them
// (conversion/llama.py, generate_extra_tensors), in float32 as torch does.
std::vector<float> llama3_rope_factors(const Llama3RopeScaling& s, float base, int head_dim) {
  const float low_wavelen = float(s.original_context) / s.low_freq_factor;
  const float high_wavelen = float(s.original_context) / s.high_freq_factor;
  std::vector<float> factors;
  for (int i = 0; i < head_dim; i += 2) {
    const float freq = 1.0f / std::pow(base, float(i) / float(head_dim));
    const double wavelen = 2 * std::numbers::pi / double(freq);
    if (wavelen < high_wavelen) {
      factors.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      factors.push_back(s.factor);
    } else {
      const double smooth = (s.original_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      factors.push_back(float(1 / ((1 - smooth) / s.factor + smooth)));
    }
  }
  return factors;
}

std::vector<TensorSpec> tensor_specs(const SyntheticGgufOptions& o, const model::ModelConfig& c) {
  const std::int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), v = c.vocab_size;
  const float in_d = 1.0f / std::sqrt(float(d)), in_h = 1.0f / std::sqrt(float(h));
  const bool biases = o.arch == "qwen2";
  // A row-major [rows × cols] matrix is ggml's {cols, rows}.
  auto matrix = [&](std::string name, std::int64_t rows, std::int64_t cols, float scale) {
    return TensorSpec{std::move(name), {cols, rows}, o.type, -scale, scale, {}};
  };
  auto vec = [&](std::string name, std::int64_t n, float lo, float hi) {
    return TensorSpec{std::move(name), {n}, GgmlType::kF32, lo, hi, {}};
  };
  std::vector<TensorSpec> t;
  t.push_back(matrix("token_embd.weight", v, d, 1.0f));
  if (o.llama3_rope)
    t.push_back({"rope_freqs.weight", {c.head_dim() / 2}, GgmlType::kF32, 0, 0,
                 llama3_rope_factors(*o.llama3_rope, c.rope_theta, c.head_dim())});
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string blk = "blk." + std::to_string(l) + ".";
    t.push_back(vec(blk + "attn_norm.weight", d, 0.5f, 1.5f));
    t.push_back(matrix(blk + "attn_q.weight", d, d, in_d));
    if (biases) t.push_back(vec(blk + "attn_q.bias", d, -0.5f, 0.5f));
    t.push_back(matrix(blk + "attn_k.weight", kv, d, in_d));
    if (biases) t.push_back(vec(blk + "attn_k.bias", kv, -0.5f, 0.5f));
    t.push_back(matrix(blk + "attn_v.weight", kv, d, in_d));
    if (biases) t.push_back(vec(blk + "attn_v.bias", kv, -0.5f, 0.5f));
    t.push_back(matrix(blk + "attn_output.weight", d, d, in_d));
    t.push_back(vec(blk + "ffn_norm.weight", d, 0.5f, 1.5f));
    t.push_back(matrix(blk + "ffn_gate.weight", h, d, in_d));
    t.push_back(matrix(blk + "ffn_down.weight", d, h, in_h));
    t.push_back(matrix(blk + "ffn_up.weight", h, d, in_d));
  }
  t.push_back(vec("output_norm.weight", d, 0.5f, 1.5f));
  // Without output.weight llama.cpp (and ladle) use token_embd.weight as the classifier.
  if (!c.shared_classifier) t.push_back(matrix("output.weight", v, d, in_d));
  return t;
}

// Draws one tensor's values chunk by chunk and writes them at its type.
Status write_tensor(GgufWriter& out, const TensorSpec& t, Rng& rng) {
  const std::size_t n = num_elements(t);
  std::vector<float> f(std::min(n, kChunk));
  std::vector<std::uint16_t> h(t.type == GgmlType::kF32 ? 0 : f.size());
  for (std::size_t at = 0; at < n; at += kChunk) {
    const std::size_t m = std::min(kChunk, n - at);
    for (std::size_t i = 0; i < m; ++i)
      f[i] = t.values.empty() ? t.lo + (t.hi - t.lo) * rng.next() : t.values[at + i];
    Status st = Ok{};
    if (t.type == GgmlType::kF32) {
      st = out.write(std::as_bytes(std::span(f.data(), m)));
    } else {
      if (t.type == GgmlType::kF16) {
        model::floats_to_halves({f.data(), m}, {h.data(), m});  // |values| <= 1: always finite
      } else {
        for (std::size_t i = 0; i < m; ++i) h[i] = float_to_bf16(f[i]);
      }
      st = out.write(std::as_bytes(std::span(h.data(), m)));
    }
    if (!st.ok()) return st;
  }
  return Ok{};
}

// llama.cpp's general.file_type for an all-`type` model (LLAMA_FTYPE_*).
std::uint32_t file_type(GgmlType type) {
  switch (type) {
    case GgmlType::kF16: return 1;
    case GgmlType::kBF16: return 32;
    default: return 0;
  }
}

void add_hyperparameters(GgufWriter& out, const SyntheticGgufOptions& o, const model::ModelConfig& c) {
  const std::string a = o.arch + ".";
  out.add_string("general.architecture", o.arch);
  out.add_string("general.name", o.name.empty() ? "ladle synthetic " + o.arch : o.name);
  out.add_u32("general.file_type", file_type(o.type));
  out.add_u32(a + "context_length", std::uint32_t(c.seq_len));
  out.add_u32(a + "embedding_length", std::uint32_t(c.dim));
  out.add_u32(a + "block_count", std::uint32_t(c.n_layers));
  out.add_u32(a + "feed_forward_length", std::uint32_t(c.hidden_dim));
  out.add_u32(a + "rope.dimension_count", std::uint32_t(c.head_dim()));
  out.add_f32(a + "rope.freq_base", c.rope_theta);
  if (o.linear_rope_factor > 0) {
    out.add_string(a + "rope.scaling.type", "linear");
    out.add_f32(a + "rope.scaling.factor", o.linear_rope_factor);
  }
  out.add_u32(a + "attention.head_count", std::uint32_t(c.n_heads));
  out.add_u32(a + "attention.head_count_kv", std::uint32_t(c.n_kv_heads));
  out.add_f32(a + "attention.layer_norm_rms_epsilon", c.norm_eps);
  out.add_u32(a + "vocab_size", std::uint32_t(c.vocab_size));
}

}  // namespace

Expected<GgmlType> parse_synthetic_type(std::string_view name) {
  if (name == "f32") return GgmlType::kF32;
  if (name == "f16") return GgmlType::kF16;
  if (name == "bf16") return GgmlType::kBF16;
  return make_error(ErrorCode::kInvalidArgument, "--type must be f32, f16 or bf16, not '" + std::string(name) + "'");
}

Expected<SyntheticGgufSummary> write_synthetic_gguf(const SyntheticGgufOptions& o) {
  auto refuse = [](const std::string& what) { return make_error(ErrorCode::kInvalidArgument, what); };
  if (o.arch != "llama" && o.arch != "qwen2")
    return refuse("architecture '" + o.arch + "': ladle writes 'llama' or 'qwen2'");
  if (o.arch != "llama" && (o.llama3_rope || o.linear_rope_factor > 0))
    return refuse("RoPE scaling is written for the llama architecture only, not " + o.arch);
  if (o.type != GgmlType::kF32 && o.type != GgmlType::kF16 && o.type != GgmlType::kBF16)
    return refuse("tensor type " + model::ggml_type_name(std::uint32_t(o.type)) + ": ladle writes f32, f16 or bf16");
  model::ModelConfig c = o.config;

  GgufWriter out;
  SyntheticGgufSummary summary;
  std::optional<model::GgufFile> vocab;
  if (!o.vocab.empty()) {
    auto f = model::GgufFile::open(o.vocab);
    if (!f) return f.error();
    vocab.emplace(std::move(*f));
    const model::GgufValue* tokens = vocab->find("tokenizer.ggml.tokens");
    if (tokens == nullptr || !tokens->is_array() || tokens->strings.size() != tokens->count || tokens->count == 0)
      return refuse("vocabulary " + o.vocab + ": no tokenizer.ggml.tokens array of strings");
    c.vocab_size = int(std::min<std::uint64_t>(tokens->count, INT32_MAX));
    auto kind = vocab->get_string("tokenizer.ggml.model");
    if (!kind) return kind.error();
    summary.tokenizer = std::string(*kind);
  } else {
    summary.tokenizer = "llama";
  }
  if (auto st = c.validate(); !st.ok()) return st.error();

  add_hyperparameters(out, o, c);
  if (vocab) {
    // Every tokenizer key as the vocabulary file has it: tokenizer.ggml.* and tokenizer.chat_template.
    for (const model::GgufKeyValue& kv : vocab->metadata())
      if (kv.key.starts_with("tokenizer.")) out.add_value(kv.key, kv.value);
  } else {
    auto pieces = model::synthetic_tokenizer_pieces(c.vocab_size);
    if (!pieces) return pieces.error();
    std::vector<float> scores;
    for (int id = 0; id < c.vocab_size; ++id) scores.push_back(id < 259 ? 0.0f : -float(id - 259));
    add_sentencepiece_vocab(out, *pieces, scores);
  }

  const std::vector<TensorSpec> tensors = tensor_specs(o, c);
  for (const TensorSpec& t : tensors) out.add_tensor(t.name, t.ne, t.type);
  if (auto st = out.open(o.out); !st.ok()) return st.error();
  Rng rng(o.seed);
  for (const TensorSpec& t : tensors)
    if (auto st = write_tensor(out, t, rng); !st.ok()) return st.error();
  if (auto st = out.finish(); !st.ok()) return st.error();
  summary.config = c;
  summary.num_tensors = tensors.size();
  summary.file_bytes = out.bytes_written();
  return summary;
}

}  // namespace ladle::tools
