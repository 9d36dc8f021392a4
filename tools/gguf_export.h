// export_gguf: a llama2.c checkpoint and its tokenizer.bin as one GGUF file that llama.cpp loads as
// architecture "llama", so that ladle and llama.cpp's llama-server can be measured on the very
// same weights.
//
// A free function; it touches only the files it is given, so any thread may call it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kvcache/expected.h"
#include "model/config.h"
#include "tools/gguf_writer.h"

namespace ladle::tools {

struct GgufExportOptions {
  std::string checkpoint;  // llama2.c model .bin
  std::string tokenizer;   // llama2.c tokenizer.bin of the same vocabulary
  std::string out;         // the .gguf to write
  std::string name;        // general.name; empty: the checkpoint's file name without extension
  // The matrices' type (token embedding, attention, FFN, classifier); the RMS norm weights are
  // always F32, as llama.cpp expects of 1-D tensors.
  GgmlType type = GgmlType::kF32;
};

struct GgufExportSummary {
  model::ModelConfig config;
  std::size_t num_tensors = 0;
  std::uint64_t file_bytes = 0;
};

// The tokenizer.ggml.* keys of a llama2.c vocabulary (tokenizer.bin's pieces and scores, BOS 1,
// EOS 2, unknown 0, bytes "<0xNN>") as a SentencePiece ("llama") tokenizer that llama.cpp reads.
void add_sentencepiece_vocab(GgufWriter& out, std::span<const std::string> pieces, std::span<const float> scores);

// "f32" or "f16"; anything else is kInvalidArgument with a message naming both.
Expected<GgmlType> parse_gguf_type(std::string_view name);

// Writes options.out: llama.* hyperparameters from the checkpoint's header, the vocabulary as a
// SentencePiece ("llama") tokenizer, and the tensors under llama.cpp's names with the checkpoint's
// values (rounded to half at kF16). Refuses, with a message naming the file and the problem, a
// checkpoint that does not load (missing, truncated, bad header), a tokenizer whose size differs
// from the checkpoint's vocabulary, a weight whose half is not finite at kF16, and an output that
// cannot be written; on failure no file is left at options.out.
//
// NOTE(gguf): no permutation of wq/wk rows. llama2.c rotates adjacent pairs (q[2i], q[2i+1]), the
// layout of Meta's checkpoints, which is exactly llama.cpp's "llama" (LLAMA_ROPE_TYPE_NORM) rope;
// the row permutation in llama.cpp's converter undoes Hugging Face's re-ordering, which llama2.c's
// export.py already undid. A row-major [out × in] matrix is the ggml tensor {ne0 = in, ne1 = out}
// with the same bytes.
Expected<GgufExportSummary> export_gguf(const GgufExportOptions& options);

}  // namespace ladle::tools
