// The engine benches' shared harness: an LlmEngine started on a synthetic checkpoint, sinks that
// time each request at the client's side, an observer that records the steps, and the requests the
// benches submit (random prompt ids, never stopping early). bench/engine_bench.cc's tables use it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "model/config.h"
#include "scheduler/llm_engine.h"

namespace ladle::bench {

using scheduler::CounterDeltas;
using scheduler::EngineGauges;
using scheduler::EngineObserver;
using scheduler::Finish;
using scheduler::GenerationRequest;
using scheduler::LlmEngine;
using scheduler::RequestStats;
using scheduler::StepStats;
using scheduler::TokenSink;
using Clock = std::chrono::steady_clock;

// Requests finished so far, shared by every Latch of a run (the closed loop waits on it).
struct Finished {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;
  void wait_for(int n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return count >= n; });
  }
};

// One request's sink: when its first text arrived, when it finished, how many tokens it made.
class Latch final : public TokenSink {
 public:
  explicit Latch(Finished* finished) : finished_(finished) {}
  void on_delta(std::string_view, int) override {
    if (!first_) first_ = Clock::now();  // engine thread only; read after on_finish
  }
  void on_finish(const Finish& f) override {
    const auto now = Clock::now();
    std::lock_guard lock(finished_->mu);
    end_ = now;
    tokens_ = f.usage.completion_tokens;
    ++finished_->count;
    finished_->cv.notify_all();
  }
  int tokens() const { return tokens_; }
  // Time per output token after the first, as `ladle bench` computes TPOT at the client:
  // (last token − first token) / (tokens − 1); nullopt below two tokens.
  std::optional<double> tpot_ms() const {
    if (!first_ || tokens_ < 2) return std::nullopt;
    return std::chrono::duration<double, std::milli>(end_ - *first_).count() / (tokens_ - 1);
  }

 private:
  Finished* finished_;
  std::optional<Clock::time_point> first_;
  Clock::time_point end_{};
  int tokens_ = 0;
};

// Every step and first-token time the engine reports, for the tables to read after a run.
class StepRecorder final : public EngineObserver {
 public:
  void on_request_rejected(ErrorCode) override {}
  void on_first_token(RequestId, double ttft) override {
    std::lock_guard lock(mu_);
    ttfts.push_back(ttft);
  }
  void on_next_token(RequestId, double) override {}
  void on_request_finished(const RequestStats&) override {}
  void on_step(const StepStats& s, const CounterDeltas&) override {
    std::lock_guard lock(mu_);
    steps.push_back(s);
  }
  void on_gauges(const EngineGauges&) override {}
  void clear() {
    std::lock_guard lock(mu_);
    steps.clear();
    ttfts.clear();
  }
  std::mutex mu_;
  std::vector<StepStats> steps;
  std::vector<double> ttfts;
};

// Comma-separated integers ("1,8,32").
std::vector<int> parse_ints(const std::string& s);

// A preset shape by name (model::preset_config); any other name means 15m.
model::ModelConfig shape_config(const std::string& name);

std::vector<TokenId> random_prompt(std::mt19937& rng, int n, int vocab);

// A greedy request for `max_tokens` tokens after a random prompt of `prompt_len` ids, never
// stopping early (ignore_eos), so every run does the same amount of work.
GenerationRequest greedy_request(std::mt19937& rng, int prompt_len, int max_tokens, int vocab);

// greedy_request(), sampled at `temperature` (seeded: the same tokens every run) when it is > 0,
// with `logprobs` top alternatives per token (-1: none).
GenerationRequest bench_request(std::mt19937& rng, int prompt_len, int max_tokens, int vocab, float temperature,
                                int logprobs);

// The steps of a run that computed no prompt token.
struct DecodeSteps {
  std::vector<double> ms;  // each step's duration
  double seconds = 0;
  long tokens = 0;
  double mean_ms() const { return seconds / double(std::max<std::size_t>(1, ms.size())) * 1e3; }
};

DecodeSteps decode_steps(const std::vector<StepStats>& steps);

struct Options {
  std::string shapes = "15m,110m";
  std::string concurrency = "1,8,32,64";
  int prompt_len = 32;
  int new_tokens = 128;
  int prefix_len = 512;
  int threads = 0;
  std::string weights = "f32";
  std::string kv_cache_dtype = "f32";
  std::string isa = "auto";  // kernels' ISA level (model/isa.h)
  bool no_prefix_test = false;
  int rounds = 1;
  int num_requests = 0;  // > concurrency: a closed loop of this many requests, C at a time
  int max_running = 0;   // > 0: the engine's --max-running (else each level's concurrency)
  std::string replay;    // a `ladle bench --json` file of an open-loop run: replay its arrivals
  std::string logprobs = "-1";  // comma-separated SamplingParams::logprobs values, alternated
  float temperature = 0;        // 0: greedy requests
};

// A started engine on the checkpoint at `path`, with the options' threads, weights and K/V dtype;
// nullptr (after saying why) if it cannot load.
std::unique_ptr<LlmEngine> start_engine(const std::string& path, const std::string& tok, int max_running,
                                        const Options& o, StepRecorder* rec);

}  // namespace ladle::bench
