// model_file: a model path as users give it (`--model`): a llama2.c checkpoint with its
// tokenizer.bin, or a GGUF file that carries its own tokenizer, told apart by the file's first
// four bytes ("GGUF"). Free functions; any thread.
#pragma once

#include <string>

#include "kvcache/expected.h"
#include "model/tokenizer.h"
#include "model/weights.h"

namespace ladle::model {

// Whether `path` starts with GGUF's magic. False for a missing or unreadable file (the loader then
// reports that).
bool is_gguf_file(const std::string& path);

struct LoadedModel {
  Weights weights;
  Tokenizer tokenizer;
  const char* format;  // "gguf" or "llama2.c"
};

// Loads the weights (not yet converted: Transformer::create does that) and the tokenizer.
// A GGUF model (gguf_file.h, gguf_config.h, gguf_weights.h, gguf_tokenizer.h) takes its tokenizer
// from its metadata, and `tokenizer_path` must then be empty (a separate tokenizer would be a
// second, possibly different vocabulary: refused). A checkpoint takes `tokenizer_path`, or
// tokenizer.bin beside it when that is empty. Errors name the file and the problem.
Expected<LoadedModel> load_model(const std::string& model_path, const std::string& tokenizer_path);

}  // namespace ladle::model
