// engine_bench: offline engine throughput (no HTTP) and prefix-cache TTFT, on synthetic
// checkpoints, with the machine's sgemm peak measured in the same run.
//
//   build/bench/engine_bench [--shapes 15m,110m] [--concurrency 1,8,32,64] [--prompt-len 32]
//                            [--new-tokens 128] [--prefix-len 512] [--threads 0] [--weights f32|f16]
//                            [--kv-cache-dtype f32|f16] [--rounds 1] [--num-requests 0] [--max-running 0]
//                            [--logprobs -1[,N...]] [--temperature 0]
//   build/bench/engine_bench --shapes tiny --replay RUN.json [--max-running 32] [--threads 1 ...]
//
// For each shape and concurrency C: C requests (random prompt ids, ignore_eos) are submitted at once
// to an LlmEngine with --max-running C, or the given --max-running (with --num-requests N > C, a
// closed loop: each finished request is replaced until N have run, as `ladle bench` drives a
// server); reported are aggregate generated tokens/s over the whole run, decode-step tokens/s and
// mean/p50/p99 step time from the engine's observer, model GFLOP/s (2 × matmul params per token)
// as a fraction of the measured sgemm peak, and the requests' mean TPOT as `ladle bench` computes
// it at the client. Then, per shape, time to first token of a request whose --prefix-len-token
// prefix is cached, over a cold one.
//
// --logprobs -1,5 runs every level once per value in each round, one right after the other (-1:
// no log-probabilities; N: every request asks for N top alternatives), so the rows compare the
// cost of log-probabilities on the same machine state. --temperature T > 0 samples (seeded)
// instead of decoding greedily.
//
// NOTE(bench): TPOT here and TPOT at a served client differ by more than the HTTP path. This closed
// loop resubmits a finished wave within one step, so the wave's prompts are prefilled together
// before any of it decodes; `ladle bench`'s clients resubmit over a few milliseconds, so a served
// wave's prefill chunks land in the decode phases of requests admitted a step earlier, and count in
// their TPOT. The per-token cost with and without HTTP is the decode-step column here against the
// server's ladle_decode_step_duration_seconds (sum / count) for the same load.
//
// --replay RUN.json takes the --json of an open-loop `ladle bench --request-rate R` run against
// `ladle serve` on the same checkpoint (/tmp/ladle_bench_<shape>.bin) and submits its requests at
// the times its client sent them, with their prompt and output lengths: the same arrivals with and
// without HTTP, so the TPOTs compare like for like. (A closed-loop run's send times depend on its
// own completions; replayed open-loop, a faster engine would run smaller batches.)
#include <algorithm>
#include <cstdio>
#include <optional>

#include "bench/bench_args.h"
#include "bench/engine/benches.h"
#include "model/checkpoint_writer.h"
#include "model/tokenizer_writer.h"
#include "scheduler/flag_set.h"

using namespace ladle;
using namespace ladle::bench;

int main(int argc, char** argv) {
  Options o;
  FlagSet flags("engine_bench [options]", "Offline engine throughput and prefix-cache TTFT on synthetic checkpoints.");
  flags.add("--shapes", &o.shapes, "comma-separated shapes: tiny (stories260K), 15m, 42m, 110m");
  flags.add("--no-prefix-test", &o.no_prefix_test, "skip the prefix-cache TTFT table");
  flags.add("--concurrency", &o.concurrency, "comma-separated concurrent sequences");
  flags.add("--prompt-len", &o.prompt_len, "prompt tokens per request");
  flags.add("--new-tokens", &o.new_tokens, "generated tokens per request");
  flags.add("--num-requests", &o.num_requests,
            "requests per level, C in flight at a time (closed loop, like `ladle bench`); default: one wave of C");
  flags.add("--max-running", &o.max_running,
            "the engine's running sequences at most (default: each concurrency level); below the concurrency, "
            "the rest wait in its queue, as requests to a server with that --max-running do");
  flags.add("--replay", &o.replay,
            "the --json of an open-loop `ladle bench --request-rate R` run against `ladle serve` on "
            "/tmp/ladle_bench_<shape>.bin: submit its requests at its send times and compare TPOT (one shape)");
  flags.add("--prefix-len", &o.prefix_len, "cached prefix tokens for the TTFT test");
  flags.add("--rounds", &o.rounds, "rounds over all concurrency levels (best and median are reported)");
  flags.add("--threads", &o.threads, "engine compute threads (0: as `ladle serve` derives them, all cores or one fewer for a tiny model)");
  flags.add("--weights", &o.weights, "matmul weights: f32 or f16");
  flags.add("--kv-cache-dtype", &o.kv_cache_dtype, "K/V cache values: f32 or f16");
  flags.add("--isa", &o.isa, "kernels' ISA level: auto, portable, avx2 or avx512");
  flags.add("--logprobs", &o.logprobs,
            "comma-separated log-probability requests, each level run once per value in every round: -1 "
            "(none) or 0..20 top alternatives");
  flags.add("--temperature", &o.temperature, "sampling temperature of the requests (0: greedy)");
  if (auto code = parse_flags(flags, argc, argv)) return *code;
  if (auto type = model::parse_weight_type(o.weights); !type) {
    std::fprintf(stderr, "%s\n", type.error().message.c_str());
    return 2;
  }
  if (auto dtype = kvcache::parse_kv_dtype(o.kv_cache_dtype); !dtype) {
    std::fprintf(stderr, "%s\n", dtype.error().message.c_str());
    return 2;
  }
  o.rounds = std::max(1, o.rounds);
  std::optional<std::vector<Arrival>> replay;
  if (!o.replay.empty() && !(replay = load_replay(o.replay))) {
    std::fprintf(stderr, "--replay %s: not a `ladle bench --json` file with successful requests\n", o.replay.c_str());
    return 2;
  }
  if (replay) {
    std::printf("weights %s, KV cache %s; replaying %s\n\n", o.weights.c_str(), o.kv_cache_dtype.c_str(), o.replay.c_str());
    std::printf("| shape | requests | max running | tok/s | decode tokens per decode step | decode step ms | TPOT ms | served TPOT ms | served over offline |\n"
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  } else {
    std::printf("weights %s, KV cache %s; %d round(s): best (median); step times and GFLOP/s from the best round; sgemm peak (M=128, 2048x768) probed before every run\n\n",
                o.weights.c_str(), o.kv_cache_dtype.c_str(), o.rounds);
    std::printf("| shape | seqs | tok/s whole run | decode tok/s | decode step ms mean / p50 / p99 | model GFLOP/s | of sgemm peak | request TPOT ms mean |\n");
    std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  }
  for (const auto& shape : split_commas(o.shapes)) {
    const int vocab = shape_config(shape).vocab_size;
    const std::string path = "/tmp/ladle_bench_" + shape + ".bin",
                      tok = "/tmp/ladle_bench_tok" + std::to_string(vocab) + ".bin";
    if (auto st = model::write_synthetic_checkpoint(path, shape_config(shape), 1234); !st) {
      std::fprintf(stderr, "%s\n", st.error().message.c_str());
      return 1;
    }
    if (auto st = model::write_synthetic_tokenizer(tok, vocab); !st) return 1;
    if (replay) return bench_replay(shape, path, tok, *replay, o) ? 0 : 1;  // one served run: one shape
    bench_throughput(shape, path, tok, o);
  }
  if (o.no_prefix_test) return 0;
  std::printf("\n| shape | prompt tokens | cold TTFT ms | cached-prefix TTFT ms | ratio |\n| --- | --- | --- | --- | --- |\n");
  for (const auto& shape : split_commas(o.shapes))
    bench_prefix(shape, "/tmp/ladle_bench_" + shape + ".bin",
                 "/tmp/ladle_bench_tok" + std::to_string(shape_config(shape).vocab_size) + ".bin", o);
  return 0;
}
