// `ladle make-model`: writes a deterministic synthetic llama2.c checkpoint of a preset shape
// (optionally overridden dimension by dimension) and, on request, a matching tokenizer.bin, so
// that ladle runs and benchmarks with no download.
#include <cstdio>
#include <span>
#include <string>

#include "model/checkpoint_writer.h"
#include "model/config.h"
#include "model/tokenizer_writer.h"
#include "scheduler/flag_set.h"
#include "tools/commands.h"

namespace ladle::tools {

namespace {

}  // namespace

int run_make_model(std::span<const std::string> args) {
  std::string preset = "tiny", out, tokenizer_out;
  int dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, vocab = 0, seq_len = 0;
  std::uint64_t seed = 42;
  bool unshared = false;
  FlagSet flags("ladle make-model --preset tiny|15m|42m|110m --out FILE [options]",
                "Writes a deterministic random-weight llama2.c checkpoint (same flags => same bytes),\n"
                "and optionally a matching synthetic tokenizer.bin.");
  flags.add("--preset", &preset, "base shape: tiny (stories260K-like), 15m, 42m or 110m");
  flags.add("--dim", &dim, "override the transformer width");
  flags.add("--hidden", &hidden, "override the FFN width");
  flags.add("--layers", &layers, "override the number of layers");
  flags.add("--heads", &heads, "override the number of query heads");
  flags.add("--kv-heads", &kv_heads, "override the number of key/value heads");
  flags.add("--vocab", &vocab, "override the vocabulary size");
  flags.add("--seq-len", &seq_len, "override the maximum context length");
  flags.add("--unshared-classifier", &unshared, "store a separate classifier (negative vocab in the header)");
  flags.add("--seed", &seed, "random seed of the weights");
  flags.add("-o,--out", &out, "checkpoint file to write (required)");
  flags.add("--tokenizer-out", &tokenizer_out, "also write a synthetic tokenizer.bin of the same vocabulary");
  if (auto st = flags.parse(args); !st.ok()) {
    std::fprintf(stderr, "ladle make-model: %s\n\n%s", st.error().message.c_str(), flags.help().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.help().c_str());
    return 0;
  }
  if (out.empty()) {
    std::fprintf(stderr, "ladle make-model: --out is required\n");
    return 2;
  }
  const std::optional<model::ModelConfig> base = model::preset_config(preset);
  if (!base) {
    std::fprintf(stderr, "ladle make-model: unknown preset '%s' (tiny, 15m, 42m, 110m)\n", preset.c_str());
    return 2;
  }
  model::ModelConfig cfg = *base;
  if (flags.was_set("--dim")) cfg.dim = dim;
  if (flags.was_set("--hidden")) cfg.hidden_dim = hidden;
  if (flags.was_set("--layers")) cfg.n_layers = layers;
  if (flags.was_set("--heads")) cfg.n_heads = heads;
  if (flags.was_set("--kv-heads")) cfg.n_kv_heads = kv_heads;
  else if (flags.was_set("--heads") && cfg.n_heads % cfg.n_kv_heads != 0) cfg.n_kv_heads = cfg.n_heads;
  if (flags.was_set("--vocab")) cfg.vocab_size = vocab;
  if (flags.was_set("--seq-len")) cfg.seq_len = seq_len;
  cfg.shared_classifier = !unshared;
  if (auto st = model::write_synthetic_checkpoint(out, cfg, seed); !st.ok()) {
    std::fprintf(stderr, "ladle make-model: %s\n", st.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr, "wrote %s: dim %d, hidden %d, layers %d, heads %d/%d kv, vocab %d, seq_len %d (%.1f MB)\n",
               out.c_str(), cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.vocab_size,
               cfg.seq_len, (28 + cfg.checkpoint_floats() * 4.0) / 1e6);
  if (!tokenizer_out.empty()) {
    if (auto st = model::write_synthetic_tokenizer(tokenizer_out, cfg.vocab_size); !st.ok()) {
      std::fprintf(stderr, "ladle make-model: %s\n", st.error().message.c_str());
      return 1;
    }
    std::fprintf(stderr, "wrote %s: synthetic tokenizer, %d pieces\n", tokenizer_out.c_str(), cfg.vocab_size);
  }
  return 0;
}

}  // namespace ladle::tools
