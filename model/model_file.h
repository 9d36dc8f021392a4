// model_file: a model path as users give it (`--model`): a llama2.c checkpoint with its
// tokenizer.bin, or a GGUF file that carries its own tokenizer, told apart by the file's first
// four bytes ("GGUF"). Free functions; any thread.
#pragma once

#include <string>

#include "kvcache/expected.h"
#include "model/any_tokenizer.h"
#include "model/weights.h"

namespace ladle::model {

// Whether `path` starts with GGUF's magic. False for a missing or unreadable file (the loader then
// reports that).
bool is_gguf_file(const std::string& path);

struct LoadedModel {
  Weights weights;
  AnyTokenizer tokenizer;
  std::string chat_template;  // the GGUF's tokenizer.chat_template (Jinja source); "" when none
  const char* format;         // "gguf" or "llama2.c"
};

// Loads the weights (not yet converted: Transformer::create does that) and the tokenizer.
// A GGUF model (gguf_file.h, gguf_config.h, gguf_weights.h, any_tokenizer.h) takes its tokenizer
// (SentencePiece or byte-level BPE) and chat template from its metadata, and `tokenizer_path` must
// then be empty (a separate tokenizer would be a second, possibly different vocabulary: refused);
// its vocabulary must hold exactly the embedding's rows. A checkpoint takes `tokenizer_path`, or
// tokenizer.bin beside it when that is empty. Errors name the file and the problem.
Expected<LoadedModel> load_model(const std::string& model_path, const std::string& tokenizer_path);

}  // namespace ladle::model
