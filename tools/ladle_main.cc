// ladle: one binary, several subcommands. Each subcommand lives in the folder that owns it.
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/loadgen/commands.h"
#include "server/serve_command.h"
#include "tools/commands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(std::span<const std::string>);
  const char* summary;
};

constexpr Subcommand kSubcommands[] = {
    {"serve", ladle::server::run_serve, "OpenAI-compatible streaming HTTP server"},
    {"generate", ladle::tools::run_generate, "complete one prompt offline, streaming to stdout"},
    {"make-model", ladle::tools::run_make_model, "write a deterministic synthetic checkpoint (+ tokenizer)"},
    {"export-gguf", ladle::tools::run_export_gguf, "convert a checkpoint + tokenizer to GGUF for llama.cpp"},
    {"tokenize", ladle::tools::run_tokenize, "print a text's token ids under a GGUF file's tokenizer"},
    {"render-chat", ladle::tools::run_render_chat, "print the prompt a Jinja chat template makes of a conversation"},
    {"bench", ladle::loadgen::run_bench, "load generator for any OpenAI-compatible server"},
    {"cancel-test", ladle::loadgen::run_cancel_test, "prove that dropped clients free their resources"},
};

void print_usage(std::FILE* out) {
  std::fprintf(out, "usage: ladle SUBCOMMAND [options]   (ladle SUBCOMMAND --help for its options)\n\n");
  for (const auto& s : kSubcommands) std::fprintf(out, "  %-12s %s\n", s.name, s.summary);
  std::fprintf(out,
               "\nModels (serve, generate: --model FILE): a llama2.c checkpoint with its tokenizer.bin, or a\n"
               "llama-architecture GGUF file (v2/v3; F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 or the K-quants\n"
               "Q4_K, Q5_K, Q6_K of Q4_K_M / Q5_K_M files) with its own tokenizer.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  std::string_view sub = argv[1];
  if (sub == "-h" || sub == "--help" || sub == "help") {
    print_usage(stdout);
    return 0;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const auto& s : kSubcommands)
    if (sub == s.name) return s.run(args);
  std::fprintf(stderr, "ladle: unknown subcommand '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
