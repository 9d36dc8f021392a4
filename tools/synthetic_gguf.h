// write_synthetic_gguf: a deterministic random-weight GGUF model in llama.cpp's "llama" or "qwen2"
// architecture, with a real vocabulary copied from a vocabulary GGUF (llama.cpp's
// ggml-vocab-*.gguf) or ladle's synthetic SentencePiece one, so that the architectures, tokenizers
// and chat templates of the models people download are exercised without their weights.
//
// A free function; it touches only the files it is given, so any thread may call it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kvcache/expected.h"
#include "model/config.h"
#include "tools/gguf_writer.h"

namespace ladle::tools {

// Llama 3.1/3.2's "llama3" RoPE scaling, as Hugging Face's config.json states it; llama.cpp's
// converter turns it into the per-frequency divisors of the rope_freqs.weight tensor.
struct Llama3RopeScaling {
  float factor = 8.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int original_context = 8192;
};

struct SyntheticGgufOptions {
  std::string out;            // the .gguf to write
  std::string arch = "llama";  // general.architecture: "llama" or "qwen2" (Q/K/V biases, NEOX RoPE)
  // Shape, rope_theta, norm_eps and shared_classifier (false: an output.weight of its own). With a
  // vocabulary file its size replaces vocab_size.
  model::ModelConfig config;
  // A GGUF whose tokenizer.ggml.* keys and tokenizer.chat_template are copied (tokens, merges or
  // scores, token types, pre-tokenizer, special ids, add_bos/eos); empty: ladle's synthetic
  // SentencePiece vocabulary of config.vocab_size pieces (model/tokenizer_writer.h).
  std::string vocab;
  // Matrices and the token embedding: kF32, kF16 or kBF16 (rounded to nearest even); the norms,
  // biases and rope_freqs are F32, as llama.cpp's converter writes 1-D tensors.
  GgmlType type = GgmlType::kF32;
  std::uint64_t seed = 42;
  std::string name;  // general.name; empty: "ladle synthetic <arch>"
  // Writes rope_freqs.weight for Llama 3.1's scaling (llama only).
  std::optional<Llama3RopeScaling> llama3_rope;
  // rope.scaling.type "linear" with this factor (positions divided by it), when > 0.
  float linear_rope_factor = 0.0f;
};

struct SyntheticGgufSummary {
  model::ModelConfig config;  // as written (vocab_size from the vocabulary)
  std::string tokenizer;      // tokenizer.ggml.model: "llama" or "gpt2"
  std::size_t num_tensors = 0;
  std::uint64_t file_bytes = 0;
};

// "f32", "f16" or "bf16"; anything else is kInvalidArgument with a message naming them.
Expected<GgmlType> parse_synthetic_type(std::string_view name);

// Writes options.out. Values: embedding uniform in ±1, matrices uniform in ±1/√fan_in (so
// activations keep their scale through the layers), norm weights uniform in [0.5, 1.5), Q/K/V
// biases uniform in ±0.5; same options ⇒ same bytes. Refuses, with a message naming the problem: a
// shape ModelConfig::validate() refuses, an unknown architecture, a vocabulary file that does not
// open or has no tokenizer.ggml.tokens, RoPE scaling on qwen2, and an output that cannot be
// written; on failure no file is left at options.out.
Expected<SyntheticGgufSummary> write_synthetic_gguf(const SyntheticGgufOptions& options);

}  // namespace ladle::tools
