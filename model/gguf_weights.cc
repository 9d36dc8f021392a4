// gguf_weights: GGUF tensors -> Weights views, widening what is not F32.
#include "model/gguf_weights.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>

#include "model/ggml_dequantize.h"

namespace ladle::model {
namespace {

// What Weights::from_views keeps alive: the file (its mapping) and the widened tensors.
struct GgufStorage {
  std::shared_ptr<const GgufFile> file;
  std::unique_ptr<float[]> widened;
};

// One tensor the model needs: its name, the shape it must have (ggml order) and where its fp32
// view goes; for a matmul matrix or the embedding, where its blocks go instead (kept_as_blocks).
struct Want {
  std::string name;
  std::vector<std::int64_t> ne;
  const float** view;
  bool matmul;
  GgmlRows* blocks = nullptr;
};

// Matmul matrices and embeddings of every type but F32 stay in the file: convert() packs a
// matrix's Q8_0 / Q4_0 blocks as they are (q8) or widens one matrix at a time (f32, f16, and q8
// from the other types: F16, BF16, the K-quants, ...), Weights::embedding_row() widens one row, so
// they cost no fp32 copy. (Before, a Q4_K_M file of the Llama-3.2-1B shape held 4.5 GB of widened
// fp32 for its whole life: BENCHMARKS.md, "Llama-3.2-1B shape".)
bool kept_as_blocks(std::uint32_t type) { return type != std::uint32_t(GgmlType::kF32); }

std::vector<Want> wanted(const ModelConfig& c, Weights::Views& v) {
  const std::int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), voc = c.vocab_size;
  std::vector<Want> w;
  // A row-major [rows × cols] matrix is ggml's {cols, rows}: the same bytes.
  w.push_back({"token_embd.weight", {d, voc}, &v.token_embedding, false, &v.token_embedding_ggml});
  v.layers.resize(std::size_t(c.n_layers));
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& lw = v.layers[std::size_t(l)];
    const std::string b = "blk." + std::to_string(l) + ".";
    w.push_back({b + "attn_norm.weight", {d}, &lw.rms_att, false});
    w.push_back({b + "attn_q.weight", {d, d}, &lw.wq.f32, true, &lw.wq.ggml});
    w.push_back({b + "attn_k.weight", {d, kv}, &lw.wk.f32, true, &lw.wk.ggml});
    w.push_back({b + "attn_v.weight", {d, kv}, &lw.wv.f32, true, &lw.wv.ggml});
    w.push_back({b + "attn_output.weight", {d, d}, &lw.wo.f32, true, &lw.wo.ggml});
    w.push_back({b + "ffn_norm.weight", {d}, &lw.rms_ffn, false});
    w.push_back({b + "ffn_gate.weight", {d, h}, &lw.w1.f32, true, &lw.w1.ggml});
    w.push_back({b + "ffn_down.weight", {h, d}, &lw.w2.f32, true, &lw.w2.ggml});
    w.push_back({b + "ffn_up.weight", {d, h}, &lw.w3.f32, true, &lw.w3.ggml});
  }
  // Q/K/V biases (qwen2), 1-D like the norms.
  for (int l = 0; c.qkv_bias && l < c.n_layers; ++l) {
    LayerWeights& lw = v.layers[std::size_t(l)];
    const std::string b = "blk." + std::to_string(l) + ".";
    w.push_back({b + "attn_q.bias", {d}, &lw.bq, false});
    w.push_back({b + "attn_k.bias", {kv}, &lw.bk, false});
    w.push_back({b + "attn_v.bias", {kv}, &lw.bv, false});
  }
  w.push_back({"output_norm.weight", {d}, &v.rms_final, false});
  if (!c.shared_classifier) w.push_back({"output.weight", {d, voc}, &v.classifier, true, &v.classifier_ggml});
  return w;
}

std::string shape_text(const std::vector<std::int64_t>& ne) {
  std::string s = "[";
  for (std::size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

}  // namespace

Expected<Weights> llama_weights_from_gguf(std::shared_ptr<const GgufFile> file, const ModelConfig& config) {
  const GgufFile& f = *file;
  auto refuse = [&](const std::string& what) {
    return make_error(ErrorCode::kInvalidArgument, "gguf " + f.name() + ": " + what);
  };
  Weights::Views views;
  const std::vector<Want> want = wanted(config, views);

  // Check every tensor before touching any data; count the floats to widen.
  std::set<std::string_view> known;
  std::size_t widened_floats = 0;
  std::vector<const GgufTensorInfo*> infos;
  for (const Want& w : want) {
    const GgufTensorInfo* t = f.find_tensor(w.name);
    if (t == nullptr) return refuse("tensor '" + w.name + "' is missing");
    const bool same = t->n_dims == int(w.ne.size()) &&
                      std::equal(w.ne.begin(), w.ne.end(), t->ne.begin());
    if (!same)
      return refuse("tensor '" + w.name + "' has shape " + t->shape() + " but the hyperparameters make it " +
                    shape_text(w.ne) + " (ggml order: the contiguous dimension first)");
    if (!can_dequantize(t->type))
      return refuse("tensor '" + w.name + "' has type " + ggml_type_name(t->type) +
                    ", which ladle does not read (it reads f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, "
                    "q4_K, q5_K and q6_K)");
    const bool in_place = t->type == std::uint32_t(GgmlType::kF32) &&
                          reinterpret_cast<std::uintptr_t>(t->data.data()) % alignof(float) == 0;
    if (!in_place && !(w.blocks != nullptr && kept_as_blocks(t->type))) widened_floats += t->num_elements;
    known.insert(t->name);
    infos.push_back(t);
  }
  // Llama 3.1's RoPE factors are the config's (gguf_config.h), read there.
  if (!config.rope_freq_factors.empty()) known.insert("rope_freqs.weight");
  for (const GgufTensorInfo& t : f.tensors())
    if (!known.count(t.name))
      return refuse("tensor '" + std::string(t.name) + "' is not part of a llama model as ladle runs it (" +
                    std::to_string(f.tensors().size()) + " tensors in the file, " + std::to_string(want.size()) +
                    " expected)");

  auto storage = std::make_shared<GgufStorage>();
  storage->file = std::move(file);
  storage->widened = std::make_unique_for_overwrite<float[]>(widened_floats);
  float* next = storage->widened.get();
  std::vector<std::span<const float>> droppable;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const GgufTensorInfo& t = *infos[i];
    const auto n = std::size_t(t.num_elements);
    const bool in_place = t.type == std::uint32_t(GgmlType::kF32) &&
                          reinterpret_cast<std::uintptr_t>(t.data.data()) % alignof(float) == 0;
    if (want[i].blocks != nullptr && kept_as_blocks(t.type)) {
      *want[i].blocks = {t.type, t.data.data()};
      // A matrix's blocks are read once, by convert() (drop_pages takes only the span's page
      // range); the embedding's rows every step.
      if (want[i].matmul && f.mapped())
        droppable.emplace_back(reinterpret_cast<const float*>(t.data.data()), t.data.size() / sizeof(float));
    } else if (in_place) {
      *want[i].view = reinterpret_cast<const float*>(t.data.data());
      // Only pages of a file mapping may be dropped: anywhere else MADV_DONTNEED would zero them.
      if (want[i].matmul && f.mapped()) droppable.emplace_back(*want[i].view, n);
    } else {
      dequantize(t.type, t.data.data(), next, n);
      *want[i].view = next;
      next += n;
    }
  }
  if (config.shared_classifier) {
    views.classifier = views.token_embedding;
    views.classifier_ggml = views.token_embedding_ggml;
  }
  return Weights::from_views(config, std::move(views), std::move(storage), std::move(droppable));
}

}  // namespace ladle::model
