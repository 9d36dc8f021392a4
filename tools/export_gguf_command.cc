// `ladle export-gguf`: writes a llama2.c checkpoint and its tokenizer.bin as a GGUF file, so that
// llama.cpp's llama-server can be benchmarked side by side with ladle on the same weights.
#include <cstdio>
#include <span>
#include <string>

#include "scheduler/flag_set.h"
#include "tools/commands.h"
#include "tools/gguf_export.h"

namespace ladle::tools {

int run_export_gguf(std::span<const std::string> args) {
  GgufExportOptions o;
  std::string type = "f32";
  FlagSet flags("ladle export-gguf -m MODEL.bin -z TOKENIZER.bin -o OUT.gguf [--type f32|f16] [--name NAME]",
                "Converts a llama2.c checkpoint and its tokenizer.bin into a GGUF v3 file that llama.cpp\n"
                "loads as architecture \"llama\" (same weights, no Q/K permutation; norms stay F32).");
  flags.add("-m,--model", &o.checkpoint, "llama2.c checkpoint (.bin) (required)");
  flags.add("-z,--tokenizer", &o.tokenizer, "llama2.c tokenizer.bin of the same vocabulary (required)");
  flags.add("-o,--out", &o.out, "GGUF file to write (required)");
  flags.add("--type", &type, "type of the weight matrices: f32 or f16");
  flags.add("--name", &o.name, "general.name (default: the checkpoint's file name without extension)");
  if (auto st = flags.parse(args); !st.ok()) {
    std::fprintf(stderr, "ladle export-gguf: %s\n\n%s", st.error().message.c_str(), flags.help().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.help().c_str());
    return 0;
  }
  for (const auto& [flag, value] : {std::pair{"--model", &o.checkpoint}, {"--tokenizer", &o.tokenizer}, {"--out", &o.out}})
    if (value->empty()) {
      std::fprintf(stderr, "ladle export-gguf: %s is required\n", flag);
      return 2;
    }
  auto parsed = parse_gguf_type(type);
  if (!parsed) {
    std::fprintf(stderr, "ladle export-gguf: %s\n", parsed.error().message.c_str());
    return 2;
  }
  o.type = *parsed;
  auto summary = export_gguf(o);
  if (!summary) {
    std::fprintf(stderr, "ladle export-gguf: %s\n", summary.error().message.c_str());
    return 1;
  }
  const auto& c = summary->config;
  std::fprintf(stderr, "wrote %s: llama, %s, dim %d, hidden %d, layers %d, heads %d/%d kv, vocab %d, ctx %d, "
               "%zu tensors%s (%.1f MB)\n",
               o.out.c_str(), type.c_str(), c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
               c.vocab_size, c.seq_len, summary->num_tensors, c.shared_classifier ? ", tied classifier" : "",
               double(summary->file_bytes) / 1e6);
  return 0;
}

}  // namespace ladle::tools
