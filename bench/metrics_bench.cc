// Cost of metrics on the engine's step thread: one step's worth of EngineObserver calls
// (B × on_next_token + on_step + on_gauges, as a decode step of batch B makes them), through
// server::Metrics versus an observer that records nothing. Compare the per-step ns with a real
// step (ladle_step_duration_seconds, or forward_bench) — the goal is < 1% of a step.
//
//   build-*/bench/metrics_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "server/metrics.h"

namespace {

using ladle::scheduler::CounterDeltas;
using ladle::scheduler::EngineGauges;
using ladle::scheduler::EngineObserver;
using ladle::scheduler::StepStats;

// The "without the observer" baseline: the engine's virtual calls with empty bodies.
class DiscardObserver final : public EngineObserver {
 public:
  void on_request_rejected(ladle::ErrorCode) override {}
  void on_first_token(ladle::RequestId, double) override {}
  void on_next_token(ladle::RequestId, double) override {}
  void on_request_finished(const ladle::scheduler::RequestStats&) override {}
  void on_step(const StepStats&, const CounterDeltas&) override {}
  void on_gauges(const EngineGauges&) override {}
};

// One decode step of `batch` sequences, as the engine reports it.
void one_step(EngineObserver& obs, int batch, int step) {
  // Gaps vary so that observations land in different buckets, as in real traffic.
  const double gap = 0.001 + 0.0005 * (step % 16);
  for (int i = 0; i < batch; ++i) obs.on_next_token(static_cast<ladle::RequestId>(i), gap);
  obs.on_step({.duration = gap, .batch_tokens = batch, .prefill_tokens = 0, .decode_tokens = batch},
              {});
  obs.on_gauges({.num_running = batch, .num_waiting = 0, .kv_blocks_total = 1024,
                 .kv_blocks_used = batch * 4, .kv_blocks_cached = 7});
}

template <class Observer>
void BM_DecodeStepObserverCalls(benchmark::State& state) {
  Observer obs;
  const int batch = static_cast<int>(state.range(0));
  int step = 0;
  for (auto _ : state) {
    // Launder the pointer so the calls stay virtual, as they are in the engine.
    EngineObserver* o = &obs;
    benchmark::DoNotOptimize(o);
    one_step(*o, batch, step++);
    benchmark::ClobberMemory();
  }
  state.counters["ns_per_token"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * batch,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK_TEMPLATE(BM_DecodeStepObserverCalls, ladle::server::Metrics)->Arg(1)->Arg(8)->Arg(32)->Arg(128);
BENCHMARK_TEMPLATE(BM_DecodeStepObserverCalls, DiscardObserver)->Arg(1)->Arg(8)->Arg(32)->Arg(128);

// The same with a scraper serializing continuously on another thread: the worst case for the
// histograms' mutexes (real scrapes come every few seconds).
void BM_DecodeStepUnderConstantScrape(benchmark::State& state) {
  ladle::server::Metrics metrics;
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop.load(std::memory_order_relaxed)) benchmark::DoNotOptimize(metrics.serialize());
  });
  int step = 0;
  for (auto _ : state) one_step(metrics, static_cast<int>(state.range(0)), step++);
  stop = true;
  scraper.join();
}
BENCHMARK(BM_DecodeStepUnderConstantScrape)->Arg(32)->UseRealTime();

// One scrape: Collect + TextSerializer over every family (runs on an HTTP thread, not the engine).
void BM_Serialize(benchmark::State& state) {
  ladle::server::Metrics metrics;
  for (int s = 0; s < 100; ++s) one_step(metrics, 32, s);
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string text = metrics.serialize();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Serialize);

}  // namespace

BENCHMARK_MAIN();
