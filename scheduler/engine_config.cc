#include "scheduler/engine_config.h"

namespace ladle::scheduler {

void add_engine_flags(FlagSet& flags, EngineConfig& c) {
  flags.add("-m,--model", &c.model_path, "llama2.c checkpoint (.bin)");
  flags.add("-z,--tokenizer", &c.tokenizer_path, "llama2.c tokenizer.bin (default: next to the model)");
  flags.add("--max-running", &c.max_running, "running sequences at most per step (0: derive)");
  flags.add("--max-batched-tokens", &c.max_batched_tokens, "tokens computed per step at most (0: derive)");
  flags.add("--max-waiting", &c.max_waiting, "queued requests at most; beyond it requests are refused as overloaded");
  flags.add("--kv-cache-mb", &c.kv_cache_mb, "K/V cache size in MiB (0: derive from the model)");
  flags.add("--block-size", &c.block_size, "tokens per KV block");
  flags.add("--threads", &c.threads, "compute threads (0: all cores)");
  flags.add("--no-prefix-caching", &c.no_prefix_caching, "do not reuse cached prompt prefixes");
}

}  // namespace ladle::scheduler
