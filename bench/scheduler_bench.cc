// Scheduler overhead per engine step: schedule() + build_forward_batch() + update() with N running
// sequences and fabricated sampled tokens (no model). One benchmark iteration is one step, so the
// reported time is the per-step cost to compare with a model step (goal: under 2% of it).
//
// Steady state: every sequence decodes; when one finishes (max_tokens drawn from [128, 512)) a new
// request with a 32-95-token prompt sharing a 32-token system prefix takes its place, so each step
// also carries an occasional prefill chunk and prefix-cache hit, as a serving engine would.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kvcache/block_pool.h"
#include "scheduler/batch_builder.h"
#include "scheduler/scheduler.h"

namespace {

using ladle::RequestId;
using ladle::TokenId;
using ladle::kvcache::BlockPool;
using ladle::scheduler::Scheduler;
using ladle::scheduler::SchedulerConfig;

struct Workload {
  std::mt19937 rng{42};
  RequestId next_id = 1;

  void add_request(Scheduler& s) {
    std::vector<TokenId> prompt;
    for (TokenId t = 0; t < 32; ++t) prompt.push_back(1000 + t);  // shared system prefix
    const int own = 1 + int(rng() % 63);
    for (int i = 0; i < own; ++i) prompt.push_back(TokenId(3 + rng() % 30000));
    s.add(next_id++, std::move(prompt), 128 + int(rng() % 384), /*ignore_eos=*/true);
  }
};

void BM_SchedulerStep(benchmark::State& state) {
  const int num_seqs = int(state.range(0));
  const bool prefix_caching = state.range(1) != 0;
  SchedulerConfig config;
  config.max_running = num_seqs;
  config.max_batched_tokens = num_seqs + 256;
  config.max_model_len = 2048;
  config.block_size = 16;
  // Room for every sequence at its longest (96 + 512 tokens), plus slack for cached blocks.
  BlockPool pool(num_seqs * 40 + 1024, config.block_size, prefix_caching);
  Scheduler scheduler(config, pool);
  Workload workload;
  for (int i = 0; i < num_seqs; ++i) workload.add_request(scheduler);
  std::vector<TokenId> sampled;
  // Warm up past the initial prefill so the measured steps are mostly decodes.
  auto step = [&] {
    const auto out = scheduler.schedule();
    const auto batch = ladle::scheduler::build_forward_batch(out, scheduler);
    benchmark::DoNotOptimize(batch.token_ids.data());
    sampled.assign(std::size_t(batch.num_logit_rows()), TokenId(500));
    const auto result = scheduler.update(out, sampled);
    for (std::size_t i = 0; i < result.finished.size(); ++i) workload.add_request(scheduler);
    return out.num_batched_tokens;
  };
  for (int i = 0; i < 64; ++i) step();

  std::int64_t tokens = 0;
  for (auto _ : state) tokens += step();
  state.counters["tokens_per_step"] = benchmark::Counter(double(tokens) / double(state.iterations()));
  state.counters["running"] = scheduler.num_running();
  state.counters["preemptions"] = double(scheduler.num_preemptions());
  const auto stats = pool.stats();
  state.counters["hit_rate"] = stats.queried_tokens ? double(stats.hit_tokens) / double(stats.queried_tokens) : 0.0;
}
BENCHMARK(BM_SchedulerStep)
    ->ArgNames({"seqs", "prefix_cache"})
    ->Args({256, 1})
    ->Args({256, 0})
    ->Args({1024, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
