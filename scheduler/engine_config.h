// EngineConfig: the engine's settings, shared by `ladle serve`, `ladle generate` and the offline
// benchmarks through add_engine_flags(). Zero means "derive a sensible default from the model
// and the machine" (resolved by LlmEngine::create, which logs the result).
#pragma once

#include <string>

#include "scheduler/flag_set.h"

namespace ladle::scheduler {

struct EngineConfig {
  std::string model_path;
  std::string tokenizer_path;
  int max_running = 0;         // running sequences at most (0: derive)
  int max_batched_tokens = 0;  // tokens computed per step at most (0: derive)
  int max_waiting = 1024;      // queued requests at most; more are rejected as overloaded
  int kv_cache_mb = 0;         // K/V arena size in MiB (0: derive)
  int block_size = 16;         // tokens per KV block
  int threads = 0;             // compute threads (0: all cores)
  bool no_prefix_caching = false;
};

// Registers --model, --tokenizer, --max-running, --max-batched-tokens, --max-waiting,
// --kv-cache-mb, --block-size, --threads and --no-prefix-caching on `flags`, writing to `config`.
void add_engine_flags(FlagSet& flags, EngineConfig& config);

}  // namespace ladle::scheduler
