#include "scheduler/engine_config.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "model/isa.h"

namespace ladle::scheduler {

void add_engine_flags(FlagSet& flags, EngineConfig& c) {
  flags.add("-m,--model", &c.model_path,
            "llama2.c checkpoint (.bin), or a llama GGUF file (F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1/Q4_K/Q5_K/Q6_K tensors) with its own tokenizer");
  flags.add("-z,--tokenizer", &c.tokenizer_path, "llama2.c tokenizer.bin of a checkpoint (default: next to the model)");
  flags.add("--chat-template", &c.chat_template_path,
            "Jinja chat template (.jinja) for chat requests, overriding the GGUF's tokenizer.chat_template "
            "(default: the model's own; llama2.c checkpoints: the plain \"User: ...\" template)");
  flags.add("--max-running", &c.max_running, "running sequences at most per step (0: derive)");
  flags.add("--max-batched-tokens", &c.max_batched_tokens, "tokens computed per step at most (0: derive)");
  flags.add("--max-decode-deferral", &c.max_decode_deferral,
            "steps in a row a streaming sequence's next token may wait while queued prompts are admitted ahead "
            "of it, so that a burst of requests gets its first tokens sooner (0: running sequences always first)");
  flags.add("--itl-target-ms", &c.itl_target_ms,
            "inter-token latency target of interactive streams in ms (0: off): while streams decode, a step "
            "computes only the tokens the measured cost per token of this model on this machine fits in it; "
            "prompt chunks and batch work get smaller steps");
  flags.add("--batch-floor-share", &c.batch_floor_share,
            "share of each step's tokens (at least one) and one running slot kept for batch-class requests "
            "while there are any, so that they progress under sustained interactive load; the tokens yield to a burst of "
            "interactive prompts for at most --max-decode-deferral steps in a row (0: none)");
  flags.add("--batch-yield", &c.batch_yield,
            "a step computing batch-class rows alone stops at its next layer boundary when an interactive request "
            "arrives, which then waits a layer instead of the whole step; the batch rows are computed again later");
  flags.add("--batch-step-share", &c.batch_step_share,
            "while interactive requests run or wait, batch-class tokens may make a step at most this share longer "
            "than its interactive tokens alone take, by the measured cost per token (0: batch gets only "
            "--batch-floor-share then; negative: off, batch work fills what interactive work leaves; with no interactive "
            "request batch work gets whole steps)");
  flags.add("--max-waiting", &c.max_waiting, "queued requests at most; beyond it requests are refused as overloaded");
  flags.add("--kv-cache-mb", &c.kv_cache_mb, "K/V cache size in MiB (0: derive from the model)");
  flags.add("--block-size", &c.block_size, "tokens per KV block");
  flags.add("--threads", &c.threads,
            "compute threads (0: all cores; one fewer for a model under 4M matmul parameters, so that the I/O thread keeps a core)");
  flags.add("--no-prefix-caching", &c.no_prefix_caching, "do not reuse cached prompt prefixes");
  flags.add("--no-argmax-screen", &c.no_argmax_screen,
            "compute all logits for greedy requests too (the screen finds the same token reading a quarter of "
            "the classifier's bytes with fp32 weights, half of them with f16 (there only for a classifier of 32 MiB or "
            "more); it needs 1 byte per classifier weight of memory)");
  flags.add("--weights", &c.weights,
            "matmul weights: f32 (the checkpoint's values), f16 (a half copy: half the bytes per token, "
            "rounded), q8 (llama.cpp's Q8_0: int8 with a scale per 32 weights, ~1.06 bytes per weight; a GGUF's "
            "Q8_0/Q4_0 blocks are used as they are) or native (a GGUF's Q4_K/Q6_K matrices computed with the "
            "file's own numbers, rearranged into panels of 16 rows at load, ~0.58/0.83 bytes per weight; its other matrices as q8)");
  flags.add("--q8-activations", &c.q8_activations,
            "with --weights q8 (and native's q8 matrices): int8 (each activation row quantized to Q8_0 per 32 values, int8 dot products summed in "
            "int32 per block, as llama.cpp) or float (the int8 weights widened into fp32 fma chains: exact activations, "
            "slower with many rows)");
  flags.add("--kv-cache-dtype", &c.kv_cache_dtype,
            "K/V cache values: f32 (exact) or f16 (rounded; half the bytes per token, so twice the tokens in "
            "--kv-cache-mb and half the bytes decode attention reads)");
  flags.add("--isa", &c.isa,
            "kernels' instruction set: auto (the best this CPU has), portable, avx2 or avx512 (same results at "
            "every level; a level the CPU lacks is refused)");
}

}  // namespace ladle::scheduler

namespace ladle::scheduler {
namespace {

std::size_t physical_memory_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? std::size_t(pages) * std::size_t(page) : (std::size_t(4) << 30);
}

int floor_pow2(double x) {
  int p = 1;
  while (p * 2 <= x) p *= 2;
  return p;
}

}  // namespace

int default_compute_threads(const model::ModelConfig& m, int cores) {
  constexpr std::size_t kSmallModelParams = 4'000'000;
  cores = std::max(1, cores);
  return m.matmul_params() < kSmallModelParams && cores > 1 ? cores - 1 : cores;
}

Status resolve_engine_defaults(EngineConfig& c, const model::ModelConfig& m) {
  auto bad = [](std::string msg) { return make_error(ErrorCode::kInvalidArgument, std::move(msg)); };
  if (c.block_size < 1 || c.block_size > 1024) return bad("--block-size must be in [1, 1024]");
  if (c.max_running < 0 || c.max_batched_tokens < 0 || c.kv_cache_mb < 0 || c.threads < 0)
    return bad("engine limits must not be negative");
  if (c.max_waiting < 0) return bad("--max-waiting must not be negative");
  if (c.max_decode_deferral < 0) return bad("--max-decode-deferral must not be negative");
  if (!(c.itl_target_ms >= 0)) return bad("--itl-target-ms must not be negative");
  if (!(c.batch_floor_share >= 0 && c.batch_floor_share <= 0.5)) return bad("--batch-floor-share must be in [0, 0.5]");
  if (!(c.batch_step_share <= 1000)) return bad("--batch-step-share must be at most 1000 (negative: off)");
  if (auto type = model::parse_weight_type(c.weights); !type) return type.error();
  if (auto a = model::parse_q8_activations(c.q8_activations); !a) return a.error();
  const auto kv_dtype = kvcache::parse_kv_dtype(c.kv_cache_dtype);
  if (!kv_dtype) return kv_dtype.error();
  if (auto isa = model::parse_isa(c.isa); !isa) return isa.error();
  if (c.threads == 0) c.threads = default_compute_threads(m, int(std::thread::hardware_concurrency()));
  if (c.max_running == 0) c.max_running = 64;
  if (c.max_batched_tokens == 0) {
    const double flops_per_token = 2.0 * double(m.matmul_params());
    c.max_batched_tokens = std::clamp(floor_pow2(15e9 / flops_per_token), 128, 2048);
  }
  c.max_batched_tokens = std::max(c.max_batched_tokens, c.max_running);
  const double bytes_per_token = 2.0 * m.n_layers * m.kv_dim() * kvcache::kv_dtype_bytes(*kv_dtype);
  const double mib = 1024.0 * 1024.0;
  if (c.kv_cache_mb == 0) {
    const double want = double(c.max_running) * m.seq_len * bytes_per_token;
    const double cap = double(physical_memory_bytes()) / 4;
    const double floor = double(m.seq_len + c.block_size) * bytes_per_token;
    c.kv_cache_mb = int(std::ceil(std::max(std::min(want, cap), floor) / mib));
  }
  return Ok{};
}

model::RuntimeLimits runtime_limits(const EngineConfig& c) {
  const auto type = model::parse_weight_type(c.weights);
  model::RuntimeLimits limits{c.max_batched_tokens, c.max_running, c.threads,
                              type ? *type : model::WeightType::kF32, !c.no_argmax_screen};
  const auto q8 = model::parse_q8_activations(c.q8_activations);
  limits.q8_activations = q8 ? *q8 : model::Q8Activations::kInt8;
  return limits;
}

kvcache::KvDtype kv_cache_dtype(const EngineConfig& c) {
  const auto dtype = kvcache::parse_kv_dtype(c.kv_cache_dtype);
  return dtype ? *dtype : kvcache::KvDtype::kF32;
}

}  // namespace ladle::scheduler
