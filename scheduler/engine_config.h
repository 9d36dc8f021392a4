// EngineConfig: the engine's settings, shared by `ladle serve`, `ladle generate` and the offline
// benchmarks through add_engine_flags(). Zero means "derive a sensible default from the model
// and the machine" (resolved by LlmEngine::create, which logs the result).
#pragma once

#include <string>

#include "model/config.h"
#include "model/transformer.h"
#include "scheduler/flag_set.h"

namespace ladle::scheduler {

struct EngineConfig {
  std::string model_path;
  std::string tokenizer_path;
  // A Jinja chat template file overriding the model's own (a GGUF's tokenizer.chat_template, or
  // llama2.c's plain template); "" keeps the model's.
  std::string chat_template_path;
  int max_running = 0;         // running sequences at most (0: derive)
  int max_batched_tokens = 0;  // tokens computed per step at most (0: derive)
  int max_decode_deferral = 16;  // steps a decode may be passed over for waiting prompts (0: never)
  // Streams' ITL target in ms (0: off): steps holding interactive decodes are sized by the learned
  // cost of a token to stay under it (scheduler.h, step_cost_model.h).
  double itl_target_ms = 0;
  // The share of each step's tokens kept for batch-class work while there is any (0: no floor).
  double batch_floor_share = 1.0 / 16;
  // While interactive requests run or wait, batch tokens may lengthen a step by at most this share
  // of its interactive tokens' predicted time (0: batch gets only the floor then; negative: off;
  // scheduler.h).
  double batch_step_share = 0.2;
  // A step of batch-class rows alone stops at its next layer boundary when an interactive request
  // is submitted, so that the request waits a layer, not a whole step; the rows are computed again
  // in a later step (llm_engine_step.cc).
  bool batch_yield = false;
  int max_waiting = 1024;      // queued requests at most; more are rejected as overloaded
  int kv_cache_mb = 0;         // K/V arena size in MiB (0: derive)
  int block_size = 16;         // tokens per KV block
  int threads = 0;             // compute threads (0: derive)
  bool no_prefix_caching = false;
  bool no_argmax_screen = false;  // give greedy requests full logits (model/argmax_screen.h)
  std::string weights = "f32";  // matmul weights: "f32" (run.c-exact) or "f16" (half the bytes)
  std::string q8_activations = "int8";  // with --weights q8: x as "int8" (Q8_0 per row) or "float"
  std::string kv_cache_dtype = "f32";  // K/V cache values: "f32" (exact) or "f16" (half the bytes)
  std::string isa = "auto";  // kernels' ISA level (model/isa.h): auto, portable, avx2 or avx512
};

// Registers --model, --tokenizer, --chat-template, --max-running, --max-batched-tokens, --max-decode-deferral,
// --itl-target-ms, --batch-floor-share, --batch-step-share, --max-waiting,
// --kv-cache-mb, --block-size, --threads, --no-prefix-caching, --no-argmax-screen, --weights,
// --q8-activations, --kv-cache-dtype and --isa on
// `flags`, writing to `config`.
void add_engine_flags(FlagSet& flags, EngineConfig& config);

// Fills every zero field of `config` from the model's shape and the machine (cores, memory):
//  - max_running: 64 sequences.
//  - max_batched_tokens: about 15 GFLOP of work per step (≈ 100 ms at this CPU's sgemm speed), as
//    a power of two in [128, 2048], and never below max_running so every decode fits one step.
//  - kv_cache_mb: room for max_running full-context sequences, capped at a quarter of RAM and
//    floored at one full-context sequence.
//  - threads: default_compute_threads(model, cores).
// Fails when a given value is out of range (block size not in [1, 1024], negative counts, an ITL
// target below 0, a batch floor share outside [0, 0.5], a batch step share above 1000 or NaN, ...)
// or --weights or --kv-cache-dtype is neither f32 nor f16, --q8-activations neither int8 nor float,
// or --isa names a level this CPU lacks.
Status resolve_engine_defaults(EngineConfig& config, const model::ModelConfig& model);

// Compute threads for `model` on `cores` cores: all of them, except that a model under 4M matmul
// parameters (stories260K's shape) leaves one core to the server's I/O thread and its clients.
// NOTE(engine): at that size a token's compute is a few microseconds, as much as its SSE event
// costs the I/O thread and the client; on two cores a second compute thread starved them (tiny
// model, 32 streams: 12k–38k events/s with two compute threads, 31k–33k with one, at about the
// same tokens/s; BENCHMARKS.md, "HTTP/SSE path: per-token cost and compute threads").
int default_compute_threads(const model::ModelConfig& model, int cores);

// The model's runtime limits for a resolved `config` (--weights must have passed
// resolve_engine_defaults).
model::RuntimeLimits runtime_limits(const EngineConfig& config);

// The K/V cache value type of a resolved `config`.
kvcache::KvDtype kv_cache_dtype(const EngineConfig& config);

}  // namespace ladle::scheduler
