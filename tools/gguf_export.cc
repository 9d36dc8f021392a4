// export_gguf: llama2.c checkpoint + tokenizer.bin -> GGUF (see gguf_export.h).
#include "tools/gguf_export.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "model/half.h"
#include "model/tokenizer.h"
#include "model/weights.h"

namespace ladle::tools {
namespace {

// SentencePiece's word-boundary marker U+2581 "▁", which llama2.c's tokenizer.py turned into " ".
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";

// llama.cpp's token attributes as stored in tokenizer.ggml.token_type (SentencePiece's piece types).
enum TokenType : std::int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kByte = 6 };
constexpr TokenId kUnknownToken = 0;

// Floats converted to half per write: 256 KiB of halves, so F16 export streams in small steps.
constexpr std::size_t kHalfChunk = std::size_t(1) << 17;

// SentencePiece's byte-fallback pieces, "<0x00>".."<0xFF>", exactly as it spells them.
bool is_byte_piece(std::string_view p) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return p.size() == 6 && p.substr(0, 3) == "<0x" && hex(p[3]) && hex(p[4]) && p[5] == '>';
}

struct GgufVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
};

// The vocabulary as SentencePiece had it, which is what llama.cpp's "llama" tokenizer expects.
// NOTE(gguf): llama2.c's exporter wrote BOS/EOS as "\n<s>\n" / "\n</s>\n" so that run.c prints
// them as line breaks; llama.cpp renders control tokens by their text only on request, and chat
// templates look them up as "<s>" / "</s>", so they go back to SentencePiece's spelling. Every
// other space becomes "▁" again: llama.cpp's SPM tokenizer escapes the input's spaces to "▁" before
// matching pieces, so pieces kept with " " would never match. Byte pieces contain no space.
GgufVocab gguf_vocab(std::span<const std::string> pieces, std::span<const float> scores) {
  GgufVocab v;
  for (TokenId id = 0; id < TokenId(pieces.size()); ++id) {
    const std::string& piece = pieces[std::size_t(id)];
    std::string text;
    std::int32_t type = kNormal;
    if (id == model::Tokenizer::kBos || id == model::Tokenizer::kEos) {
      text = id == model::Tokenizer::kBos ? "<s>" : "</s>";
      type = kControl;
    } else if (is_byte_piece(piece)) {
      text = piece;
      type = kByte;
    } else {
      for (char c : piece) {
        if (c == ' ') text.append(kSpaceMarker);
        else text.push_back(c);
      }
      if (id == kUnknownToken) type = kUnknown;
    }
    v.tokens.push_back(std::move(text));
    v.scores.push_back(scores[std::size_t(id)]);
    v.types.push_back(type);
  }
  return v;
}

void add_metadata(GgufWriter& out, const model::ModelConfig& c, const std::string& name, GgmlType type,
                  std::span<const std::string> pieces, std::span<const float> scores) {
  out.add_string("general.architecture", "llama");
  out.add_string("general.name", name);
  out.add_u32("general.file_type", type == GgmlType::kF16 ? 1 : 0);  // LLAMA_FTYPE_ALL_F32 / MOSTLY_F16
  out.add_u32("llama.context_length", std::uint32_t(c.seq_len));
  out.add_u32("llama.embedding_length", std::uint32_t(c.dim));
  out.add_u32("llama.block_count", std::uint32_t(c.n_layers));
  out.add_u32("llama.feed_forward_length", std::uint32_t(c.hidden_dim));
  out.add_u32("llama.rope.dimension_count", std::uint32_t(c.head_dim()));  // RoPE over the whole head
  out.add_f32("llama.rope.freq_base", c.rope_theta);
  out.add_u32("llama.attention.head_count", std::uint32_t(c.n_heads));
  out.add_u32("llama.attention.head_count_kv", std::uint32_t(c.n_kv_heads));
  out.add_f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  out.add_u32("llama.vocab_size", std::uint32_t(c.vocab_size));
  add_sentencepiece_vocab(out, pieces, scores);
}

// One tensor to write: llama.cpp's name, ggml shape, type in the file, and its floats in the
// checkpoint (a view into the mapping).
struct TensorSource {
  std::string name;
  std::vector<std::int64_t> ne;
  GgmlType type;
  const float* data;
};

std::vector<TensorSource> tensor_sources(const model::Weights& w, GgmlType matrix_type) {
  const model::ModelConfig& c = w.config();
  const std::int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), v = c.vocab_size;
  // A row-major [rows × cols] llama2.c matrix is ggml's {cols, rows}.
  auto matrix = [&](std::string name, std::int64_t rows, std::int64_t cols, const float* data) {
    return TensorSource{std::move(name), {cols, rows}, matrix_type, data};
  };
  auto norm = [&](std::string name, const float* data) { return TensorSource{std::move(name), {d}, GgmlType::kF32, data}; };
  std::vector<TensorSource> t;
  t.push_back(matrix("token_embd.weight", v, d, w.token_embedding()));
  for (int l = 0; l < c.n_layers; ++l) {
    const model::LayerWeights& lw = w.layer(l);
    const std::string blk = "blk." + std::to_string(l) + ".";
    t.push_back(norm(blk + "attn_norm.weight", lw.rms_att));
    t.push_back(matrix(blk + "attn_q.weight", d, d, lw.wq.f32));
    t.push_back(matrix(blk + "attn_k.weight", kv, d, lw.wk.f32));
    t.push_back(matrix(blk + "attn_v.weight", kv, d, lw.wv.f32));
    t.push_back(matrix(blk + "attn_output.weight", d, d, lw.wo.f32));
    t.push_back(norm(blk + "ffn_norm.weight", lw.rms_ffn));
    t.push_back(matrix(blk + "ffn_gate.weight", h, d, lw.w1.f32));  // w1: silu(w1 x) gates
    t.push_back(matrix(blk + "ffn_down.weight", d, h, lw.w2.f32));  // w2: back to dim
    t.push_back(matrix(blk + "ffn_up.weight", h, d, lw.w3.f32));    // w3: the multiplied branch
  }
  t.push_back(norm("output_norm.weight", w.rms_final()));
  // A shared classifier is left out: llama.cpp then uses token_embd.weight as the output matrix.
  if (!c.shared_classifier) t.push_back(matrix("output.weight", v, d, w.classifier().f32));
  return t;
}

std::size_t num_elements(const TensorSource& t) {
  std::size_t n = 1;
  for (std::int64_t x : t.ne) n *= std::size_t(x);
  return n;
}

// Streams one tensor's floats to `out`: as they are at kF32, in half-rounded chunks at kF16.
Status write_tensor(GgufWriter& out, const TensorSource& t, std::vector<model::Half>& halves) {
  const std::size_t n = num_elements(t);
  if (t.type == GgmlType::kF32) return out.write(std::as_bytes(std::span(t.data, n)));
  halves.resize(std::min(n, kHalfChunk));
  for (std::size_t at = 0; at < n; at += kHalfChunk) {
    const std::size_t m = std::min(kHalfChunk, n - at);
    const std::span<const float> in(t.data + at, m);
    if (const std::size_t bad = model::floats_to_halves(in, {halves.data(), m}); bad < m) {
      char value[32];
      std::snprintf(value, sizeof value, "%g", double(in[bad]));
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("--type f16: ") + t.name + " element " + std::to_string(at + bad) + " is " +
                            value + ", which does not fit a half (largest 65504); use --type f32");
    }
    if (auto st = out.write(std::as_bytes(std::span<const model::Half>(halves.data(), m))); !st.ok()) return st;
  }
  return Ok{};
}

// Refuses to write over an input: the checkpoint is still mapped while the output is renamed in.
Status check_output_path(const GgufExportOptions& o) {
  std::error_code ec;
  for (const std::string& in : {o.checkpoint, o.tokenizer})
    if (std::filesystem::equivalent(in, o.out, ec))
      return make_error(ErrorCode::kInvalidArgument, "output " + o.out + " is the input " + in);
  return Ok{};
}

}  // namespace

void add_sentencepiece_vocab(GgufWriter& out, std::span<const std::string> pieces, std::span<const float> scores) {
  const GgufVocab vocab = gguf_vocab(pieces, scores);
  out.add_string("tokenizer.ggml.model", "llama");
  out.add_strings("tokenizer.ggml.tokens", vocab.tokens);
  out.add_f32s("tokenizer.ggml.scores", vocab.scores);
  out.add_i32s("tokenizer.ggml.token_type", vocab.types);
  out.add_u32("tokenizer.ggml.bos_token_id", model::Tokenizer::kBos);
  out.add_u32("tokenizer.ggml.eos_token_id", model::Tokenizer::kEos);
  out.add_u32("tokenizer.ggml.unknown_token_id", kUnknownToken);
  out.add_bool("tokenizer.ggml.add_bos_token", true);   // run.c and ladle prepend BOS to every prompt
  out.add_bool("tokenizer.ggml.add_eos_token", false);
}

Expected<GgmlType> parse_gguf_type(std::string_view name) {
  if (name == "f32") return GgmlType::kF32;
  if (name == "f16") return GgmlType::kF16;
  return make_error(ErrorCode::kInvalidArgument, "--type must be f32 or f16, not '" + std::string(name) + "'");
}

Expected<GgufExportSummary> export_gguf(const GgufExportOptions& o) {
  if (auto st = check_output_path(o); !st.ok()) return st.error();
  // Weights::load checks the header and that the file holds exactly the floats it implies; without
  // convert() it packs nothing, and its f32 views point into the read-only mapping.
  auto weights = model::Weights::load(o.checkpoint);
  if (!weights) return weights.error();
  const model::ModelConfig& cfg = weights->config();
  // The tokenizer must hold exactly the checkpoint's vocabulary; its message says which side is off.
  auto tokenizer = model::Tokenizer::load(o.tokenizer, cfg.vocab_size);
  if (!tokenizer) return tokenizer.error();

  const std::string name = o.name.empty() ? std::filesystem::path(o.checkpoint).stem().string() : o.name;
  GgufWriter out;
  std::vector<std::string> pieces;
  std::vector<float> scores;
  for (TokenId id = 0; id < tokenizer->vocab_size(); ++id) {
    pieces.push_back(tokenizer->piece(id));
    scores.push_back(tokenizer->score(id));
  }
  add_metadata(out, cfg, name, o.type, pieces, scores);
  const std::vector<TensorSource> tensors = tensor_sources(*weights, o.type);
  for (const TensorSource& t : tensors) out.add_tensor(t.name, t.ne, t.type);
  if (auto st = out.open(o.out); !st.ok()) return st.error();
  std::vector<model::Half> halves;
  for (const TensorSource& t : tensors)
    if (auto st = write_tensor(out, t, halves); !st.ok()) return st.error();
  if (auto st = out.finish(); !st.ok()) return st.error();
  return GgufExportSummary{cfg, tensors.size(), out.bytes_written()};
}

}  // namespace ladle::tools
