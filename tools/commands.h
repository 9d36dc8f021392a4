// Offline subcommands of the ladle binary. Each takes the words after its name and returns the
// process exit code.
#pragma once

#include <span>
#include <string>

namespace ladle::tools {

// `ladle generate`: one prompt through the engine, text streamed to stdout, stats to stderr.
int run_generate(std::span<const std::string> args);
// `ladle make-model`: a deterministic synthetic checkpoint and a matching tokenizer.
int run_make_model(std::span<const std::string> args);
// `ladle export-gguf`: a checkpoint and its tokenizer as a GGUF file for llama.cpp.
int run_export_gguf(std::span<const std::string> args);
// `ladle tokenize`: a text's ids under a GGUF file's tokenizer, on one line.
int run_tokenize(std::span<const std::string> args);
// `ladle render-chat`: the prompt a Jinja chat template makes of a conversation.
int run_render_chat(std::span<const std::string> args);

}  // namespace ladle::tools
