// `ladle make-model`: writes a deterministic synthetic model of a preset shape (optionally
// overridden dimension by dimension), so that ladle runs and benchmarks with no download: a
// llama2.c checkpoint (and, on request, a matching tokenizer.bin), or a GGUF file in the "llama"
// or "qwen2" architecture carrying a real vocabulary and chat template copied from a vocabulary
// GGUF (tools/synthetic_gguf.h).
#include <charconv>
#include <cstdio>
#include <span>
#include <string>

#include "model/checkpoint_writer.h"
#include "model/config.h"
#include "model/tokenizer_writer.h"
#include "scheduler/flag_set.h"
#include "tools/commands.h"
#include "tools/synthetic_gguf.h"

namespace ladle::tools {

namespace {

// --vocab: a number is the vocabulary size, anything else a vocabulary GGUF to copy.
struct VocabArg {
  int size = 0;       // > 0 when a number was given
  std::string file;   // non-empty when a path was given
};

VocabArg parse_vocab_arg(const std::string& s) {
  VocabArg v;
  int n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec == std::errc() && end == s.data() + s.size()) v.size = n;
  else v.file = s;
  return v;
}

// The GGUF flags beyond the shape: architecture, tensor type, RoPE.
struct GgufFlags {
  std::string arch = "llama", type = "f32", rope_scaling = "none";
  float rope_factor = 8.0f, low_freq_factor = 1.0f, high_freq_factor = 4.0f;
  int original_context = 8192;
};

int write_gguf(const std::string& out, const model::ModelConfig& cfg, const VocabArg& vocab, const GgufFlags& g,
               std::uint64_t seed) {
  SyntheticGgufOptions o;
  o.out = out;
  o.arch = g.arch;
  o.config = cfg;
  o.vocab = vocab.file;
  o.seed = seed;
  auto type = parse_synthetic_type(g.type);
  if (!type) {
    std::fprintf(stderr, "ladle make-model: %s\n", type.error().message.c_str());
    return 2;
  }
  o.type = *type;
  if (g.rope_scaling == "llama3") {
    o.llama3_rope = Llama3RopeScaling{g.rope_factor, g.low_freq_factor, g.high_freq_factor, g.original_context};
  } else if (g.rope_scaling == "linear") {
    o.linear_rope_factor = g.rope_factor;
  } else if (g.rope_scaling != "none") {
    std::fprintf(stderr, "ladle make-model: --rope-scaling must be none, llama3 or linear, not '%s'\n",
                 g.rope_scaling.c_str());
    return 2;
  }
  auto summary = write_synthetic_gguf(o);
  if (!summary) {
    std::fprintf(stderr, "ladle make-model: %s\n", summary.error().message.c_str());
    return 1;
  }
  const model::ModelConfig& c = summary->config;
  std::fprintf(stderr,
               "wrote %s: %s, %s tensors, dim %d, hidden %d, layers %d, heads %d/%d kv, vocab %d (%s tokenizer%s%s), "
               "seq_len %d, rope base %g, %zu tensors (%.1f MB)\n",
               out.c_str(), g.arch.c_str(), g.type.c_str(), c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
               c.vocab_size, summary->tokenizer.c_str(), vocab.file.empty() ? "" : " from ", vocab.file.c_str(),
               c.seq_len, double(c.rope_theta), summary->num_tensors, double(summary->file_bytes) / 1e6);
  return 0;
}

}  // namespace

int run_make_model(std::span<const std::string> args) {
  std::string preset = "tiny", out, tokenizer_out, vocab_text, format;
  int dim = 0, hidden = 0, layers = 0, heads = 0, kv_heads = 0, seq_len = 0;
  float rope_theta = 0, norm_eps = 0;
  std::uint64_t seed = 42;
  bool unshared = false;
  GgufFlags g;
  FlagSet flags("ladle make-model --preset tiny|15m|42m|110m --out FILE [options]",
                "Writes a deterministic random-weight model (same flags => same bytes): a llama2.c checkpoint\n"
                "and optionally a matching synthetic tokenizer.bin, or a GGUF file (--format gguf or an\n"
                "--out ending in .gguf) in the llama or qwen2 architecture with a real vocabulary (--vocab FILE.gguf).");
  flags.add("--preset", &preset, "base shape: tiny (stories260K-like), 15m, 42m or 110m");
  flags.add("--dim", &dim, "override the transformer width");
  flags.add("--hidden", &hidden, "override the FFN width");
  flags.add("--layers", &layers, "override the number of layers");
  flags.add("--heads", &heads, "override the number of query heads");
  flags.add("--kv-heads", &kv_heads, "override the number of key/value heads");
  flags.add("--vocab", &vocab_text,
            "a number: the vocabulary size; a path: a vocabulary GGUF whose tokenizer and chat template the "
            "GGUF model copies (its size becomes the vocabulary size)");
  flags.add("--seq-len", &seq_len, "override the maximum context length");
  flags.add("--unshared-classifier", &unshared, "store a separate classifier (negative vocab in the header; output.weight in a GGUF)");
  flags.add("--seed", &seed, "random seed of the weights");
  flags.add("-o,--out", &out, "model file to write (required)");
  flags.add("--tokenizer-out", &tokenizer_out, "also write a synthetic tokenizer.bin of the same vocabulary (checkpoint only)");
  flags.add("--format", &format, "checkpoint or gguf (default: gguf when --out ends in .gguf)");
  flags.add("--arch", &g.arch, "GGUF architecture: llama or qwen2 (Q/K/V biases, NEOX RoPE)");
  flags.add("--type", &g.type, "GGUF matrix type: f32, f16 or bf16");
  flags.add("--rope-theta", &rope_theta, "RoPE base frequency (GGUF; default 10000, Llama 3 uses 500000)");
  flags.add("--norm-eps", &norm_eps, "RMSNorm epsilon (GGUF; default 1e-5)");
  flags.add("--rope-scaling", &g.rope_scaling, "GGUF RoPE scaling: none, llama3 (rope_freqs.weight, Llama 3.1) or linear");
  flags.add("--rope-factor", &g.rope_factor, "RoPE scaling factor (llama3, linear)");
  flags.add("--rope-low-freq-factor", &g.low_freq_factor, "llama3 scaling's low_freq_factor");
  flags.add("--rope-high-freq-factor", &g.high_freq_factor, "llama3 scaling's high_freq_factor");
  flags.add("--rope-original-context", &g.original_context, "llama3 scaling's original_max_position_embeddings");
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
  if (format.empty()) format = out.ends_with(".gguf") ? "gguf" : "checkpoint";
  if (format != "gguf" && format != "checkpoint") {
    std::fprintf(stderr, "ladle make-model: --format must be checkpoint or gguf, not '%s'\n", format.c_str());
    return 2;
  }
  const bool gguf = format == "gguf";
  const VocabArg vocab = parse_vocab_arg(vocab_text);
  if (flags.was_set("--vocab") && vocab.file.empty() && vocab.size <= 0) {
    std::fprintf(stderr, "ladle make-model: --vocab %s: the vocabulary size must be positive\n", vocab_text.c_str());
    return 2;
  }
  if (!gguf) {
    for (const char* f : {"--arch", "--type", "--rope-theta", "--norm-eps", "--rope-scaling"})
      if (flags.was_set(f)) {
        std::fprintf(stderr, "ladle make-model: %s applies to GGUF output (--format gguf or an --out ending in .gguf)\n", f);
        return 2;
      }
    if (!vocab.file.empty()) {
      std::fprintf(stderr, "ladle make-model: --vocab %s: a vocabulary file needs GGUF output (--format gguf)\n",
                   vocab.file.c_str());
      return 2;
    }
  } else if (!tokenizer_out.empty()) {
    std::fprintf(stderr, "ladle make-model: --tokenizer-out writes a llama2.c tokenizer; a GGUF carries its own\n");
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
  if (vocab.size > 0) cfg.vocab_size = vocab.size;
  if (flags.was_set("--seq-len")) cfg.seq_len = seq_len;
  if (flags.was_set("--rope-theta")) cfg.rope_theta = rope_theta;
  if (flags.was_set("--norm-eps")) cfg.norm_eps = norm_eps;
  cfg.shared_classifier = !unshared;
  if (gguf) return write_gguf(out, cfg, vocab, g, seed);
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
