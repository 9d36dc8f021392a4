// `ladle tokenize`: the ids a GGUF file's own tokenizer gives a text (SentencePiece or byte-level
// BPE), space-separated on one line, as llama.cpp's llama-tokenize --ids prints them. Vocabulary-
// only GGUF files (no tensors, as llama.cpp's models/ggml-vocab-*.gguf) are accepted.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <span>
#include <string>

#include "model/any_tokenizer.h"
#include "model/gguf_file.h"
#include "model/model_file.h"
#include "model/utf8.h"
#include "scheduler/flag_set.h"
#include "tools/commands.h"

namespace ladle::tools {

int run_tokenize(std::span<const std::string> args) {
  std::string model, text;
  bool no_special = false, no_bos = false;
  FlagSet flags("ladle tokenize -m FILE.gguf [--no-special] [--no-bos] [--text T]",
                "Prints the token ids of a text (--text, or all of stdin) under a GGUF file's tokenizer,\n"
                "space-separated on one line. By default BOS/EOS are added as the file says and special\n"
                "tokens spelled in the text (<|eot_id|>, <|im_start|>, ...) become their ids.");
  flags.add("-m,--model", &model, "GGUF file with a tokenizer (a vocabulary-only file will do) (required)");
  flags.add("--text", &text, "the text (default: read stdin to its end)");
  flags.add("--no-special", &no_special, "neither add BOS/EOS nor parse special tokens in the text (llama.cpp's test vectors)");
  flags.add("--no-bos", &no_bos, "do not add BOS/EOS (special tokens in the text are still parsed)");
  if (auto st = flags.parse(args); !st.ok()) {
    std::fprintf(stderr, "ladle tokenize: %s\n\n%s", st.error().message.c_str(), flags.help().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.help().c_str());
    return 0;
  }
  if (model.empty()) {
    std::fprintf(stderr, "ladle tokenize: --model is required\n");
    return 2;
  }
  if (!model::is_gguf_file(model)) {
    std::fprintf(stderr, "ladle tokenize: %s is not a GGUF file (or cannot be read)\n", model.c_str());
    return 1;
  }
  auto file = model::GgufFile::open(model);
  if (!file) {
    std::fprintf(stderr, "ladle tokenize: %s\n", file.error().message.c_str());
    return 1;
  }
  auto tok = model::load_gguf_tokenizer(*file);
  if (!tok) {
    std::fprintf(stderr, "ladle tokenize: %s\n", tok.error().message.c_str());
    return 1;
  }
  if (!flags.was_set("--text")) text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  if (!model::is_valid_utf8(text)) {
    std::fprintf(stderr, "ladle tokenize: the text is not valid UTF-8\n");
    return 1;
  }
  const auto ids = tok->encode(text, /*add_special=*/!no_special && !no_bos, /*parse_special=*/!no_special);
  std::string line;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  return 0;
}

}  // namespace ladle::tools
