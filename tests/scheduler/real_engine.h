// Helpers for the LlmEngine tests on the real trained model (stories260K): a sink that collects
// one request's output, an observer that records the engine's calls in order, and engines and
// requests built the same way in every test.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "scheduler/llm_engine.h"

namespace ladle::scheduler::testing_real {

using namespace std::chrono_literals;

// Collects one request's output; wait() blocks until on_finish. The hooks, when set, run on the
// engine thread: `admitted` as the request is first scheduled, just before its first forward
// call; `delta` after each delta is collected (a test may hold the engine there).
class CollectingSink final : public TokenSink {
 public:
  std::function<void()> admitted, delta;
  void on_admitted(int) override {
    if (admitted) admitted();
  }
  void on_delta(std::string_view text, int num_tokens) override {
    {
      std::lock_guard lock(mu_);
      text_ += text;
      ++num_deltas_;
    }
    if (delta) delta();
  }
  void on_finish(const Finish& f) override {
    std::lock_guard lock(mu_);
    finish_ = f;
    done_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout = 60s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }
  std::string text() {
    std::lock_guard lock(mu_);
    return text_;
  }
  Finish finish() {
    std::lock_guard lock(mu_);
    return finish_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string text_;
  int num_deltas_ = 0;
  Finish finish_;
  bool done_ = false;
};

// Records the engine's observer calls in order, for "freed before the next step" checks.
class RecordingObserver final : public EngineObserver {
 public:
  struct Event {
    enum Kind { kStep, kGauges, kFinished, kFirstToken } kind;
    Event(Kind k, RequestId i = 0) : kind(k), id(i) {}  // NOLINT(google-explicit-constructor)
    RequestId id = 0;
    FinishReason reason = FinishReason::kStop;
    EngineGauges gauges;
    StepStats step;
  };
  void on_request_rejected(ErrorCode) override {}
  void on_first_token(RequestId id, double) override { push({Event::kFirstToken, id}); }
  void on_next_token(RequestId, double) override {}
  void on_request_finished(const RequestStats& s) override {
    Event e{Event::kFinished, s.id};
    e.reason = s.reason;
    push(e);
  }
  void on_step(const StepStats& st, const CounterDeltas& d) override {
    Event e{Event::kStep};
    e.step = st;
    std::lock_guard lock(mu_);
    events_.push_back(e);
    preemptions_ += d.preemptions;
    prefix_hits_ += d.prefix_hit_tokens;
  }
  void on_gauges(const EngineGauges& g) override {
    Event e{Event::kGauges};
    e.gauges = g;
    push(e);
  }
  void on_step_failed(std::string_view) override {
    std::lock_guard lock(mu_);
    ++failed_steps_;
  }
  int failed_steps() {
    std::lock_guard lock(mu_);
    return failed_steps_;
  }
  // The most sequences any one step decoded together.
  int max_decodes_in_a_step() {
    int most = 0;
    for (const auto& e : events())
      if (e.kind == Event::kStep) most = std::max(most, e.step.decode_tokens);
    return most;
  }
  std::vector<Event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::uint64_t preemptions() {
    std::lock_guard lock(mu_);
    return preemptions_;
  }
  std::uint64_t prefix_hits() {
    std::lock_guard lock(mu_);
    return prefix_hits_;
  }
  // Waits until `pred(events)` holds.
  template <class Pred>
  bool wait_for(Pred pred, std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred(events())) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

 private:
  void push(Event e) {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  std::mutex mu_;
  std::vector<Event> events_;
  std::uint64_t preemptions_ = 0, prefix_hits_ = 0;
  int failed_steps_ = 0;
};

inline EngineConfig real_model_config() {
  EngineConfig c;
  c.model_path = std::string(LADLE_MODELS_DIR) + "/stories260K.bin";
  c.tokenizer_path = std::string(LADLE_MODELS_DIR) + "/tok512.bin";
  c.threads = 1;
  return c;
}

inline std::unique_ptr<LlmEngine> make_engine(EngineConfig c, EngineObserver* obs = nullptr) {
  auto e = LlmEngine::create(std::move(c), obs);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
  if (!e) return nullptr;
  (*e)->start();
  return std::move(*e);
}

inline GenerationRequest make_request(const Engine& engine, const std::string& prompt, int max_tokens,
                               float temperature = 0, std::uint64_t seed = 1) {
  GenerationRequest r;
  r.prompt_tokens = *engine.tokenize(prompt, true, true);
  r.params.temperature = temperature;
  r.params.max_tokens = max_tokens;
  r.params.seed = seed;
  return r;
}

inline const std::vector<std::string> kPrompts = {
    "Once upon a time", "Lily and Tom", "The cat sat", "One day, a little bird", "Max had a big red ball",
    "The sun was hot", "Sara liked to draw", "There was a tall tree", "Ben wanted a cake", "The dog ran",
    "Mom said", "In the park", "A frog", "The little boat", "Tim and Sue went to the beach", "It was a rainy day"};

struct Output {
  std::string text;
  FinishReason reason;
  int tokens;
};

// Runs every prompt at once (all submitted before the engine can finish any) and returns outputs.
inline std::vector<Output> run_together(LlmEngine& engine, const std::vector<GenerationRequest>& reqs) {
  std::vector<std::shared_ptr<CollectingSink>> sinks;
  for (const auto& r : reqs) {
    sinks.push_back(std::make_shared<CollectingSink>());
    EXPECT_TRUE(engine.submit(r, sinks.back()).ok());
  }
  std::vector<Output> out;
  for (auto& s : sinks) {
    EXPECT_TRUE(s->wait());
    out.push_back({s->text(), s->finish().reason, s->finish().usage.completion_tokens});
  }
  return out;
}

inline Output run_alone(LlmEngine& engine, const GenerationRequest& r) { return run_together(engine, {r})[0]; }

// Runs every request in one batch for certain: they are submitted to a fresh engine (config `c`)
// before its step thread starts, so its first step sees them all. `*max_batch` receives the most
// sequences any one step decoded together, which a batched-equals-alone test checks, so that it
// cannot pass by running the requests one after another.
inline std::vector<Output> run_batched(EngineConfig c, const std::vector<GenerationRequest>& reqs, int* max_batch) {
  RecordingObserver obs;
  auto created = LlmEngine::create(std::move(c), &obs);
  EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
  if (!created.ok()) return {};
  LlmEngine& engine = **created;
  std::vector<std::shared_ptr<CollectingSink>> sinks;
  for (const auto& r : reqs) {
    sinks.push_back(std::make_shared<CollectingSink>());
    EXPECT_TRUE(engine.submit(r, sinks.back()).ok());
  }
  engine.start();
  std::vector<Output> out;
  for (auto& s : sinks) {
    EXPECT_TRUE(s->wait());
    out.push_back({s->text(), s->finish().reason, s->finish().usage.completion_tokens});
  }
  engine.stop();
  *max_batch = obs.max_decodes_in_a_step();
  return out;
}

// A prompt prefix of over 200 tokens (twelve repeated sentences).
inline std::string long_prefix() {
  std::string s;
  for (int i = 0; i < 12; ++i) s += "Lily and Tom went to the park to play with a big red ball. ";
  return s;
}

}  // namespace ladle::scheduler::testing_real
