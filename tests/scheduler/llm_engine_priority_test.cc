// LlmEngine with request classes on the real trained model (stories260K): batch requests preempted
// mid-decode by interactive arrivals produce exactly what they produce alone (seeded sampling:
// the sampler's RNG lives with the request, and recompute rebuilds the same K/V); batch tokens
// stay out of the latency observers; the gauges count batch requests; --batch-yield cuts a
// batch-only step for an interactive arrival without changing either's output.
#include "scheduler/llm_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "tests/scheduler/real_engine.h"

namespace ladle::scheduler {
namespace {

using namespace testing_real;

// Counts what the engine reports per class.
class ClassObserver final : public EngineObserver {
 public:
  void on_request_rejected(ErrorCode) override {}
  void on_first_token(RequestId, double) override { ++interactive_tokens; }
  void on_next_token(RequestId, double) override { ++interactive_tokens; }
  void on_batch_token(RequestId) override {
    if (++batch_tokens != pause_at) return;
    std::unique_lock lock(mu_);  // hold the engine here until the test lets it go
    paused_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  // The engine thread stops inside the pause_at-th batch token until release().
  void wait_paused() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return paused_; });
  }
  void release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int pause_at = -1;
  void on_request_finished(const RequestStats& s) override {
    (s.request_class == RequestClass::kBatch ? batch_finished : interactive_finished)++;
  }
  void on_step(const StepStats&, const CounterDeltas& d) override { preemptions += d.preemptions; }
  void on_gauges(const EngineGauges& g) override {
    most_batch_running = std::max(most_batch_running.load(), g.num_running_batch);
    most_batch_waiting = std::max(most_batch_waiting.load(), g.num_waiting_batch);
  }
  std::atomic<int> interactive_tokens{0}, batch_tokens{0}, interactive_finished{0}, batch_finished{0};
  std::atomic<int> most_batch_running{0}, most_batch_waiting{0};
  std::atomic<std::uint64_t> preemptions{0};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false, released_ = false;
};

TEST(LlmEnginePriority, BatchPreemptedByInteractiveArrivalsKeepsItsOutput) {
  EngineConfig tight = real_model_config();
  tight.kv_cache_mb = 1;  // 51 blocks of 16 = 816 tokens: four batch requests fit, eight do not
  ClassObserver obs;
  auto engine = make_engine(tight, &obs);
  ASSERT_TRUE(engine);
  auto roomy = make_engine(real_model_config());
  ASSERT_TRUE(roomy);
  constexpr int kTokens = 150;
  std::vector<GenerationRequest> batch, interactive;
  for (std::size_t i = 0; i < 8; ++i) {
    GenerationRequest r = make_request(*engine, kPrompts[i], kTokens, /*temperature=*/0.8f, /*seed=*/100 + i);
    r.params.ignore_eos = true;
    if (i < 4) {
      r.request_class = RequestClass::kBatch;
      batch.push_back(r);
    } else {
      interactive.push_back(r);
    }
  }
  std::vector<Output> expected_batch, expected_interactive;
  for (const auto& r : batch) expected_batch.push_back(run_alone(*roomy, r));
  for (const auto& r : interactive) expected_interactive.push_back(run_alone(*roomy, r));

  // The interactive requests arrive mid-decode, while the engine is held at the 160th batch token
  // (about 40 each; none is done): on a loaded machine a sleeping test thread could otherwise
  // wake to find the batch requests nearly finished and nothing left to preempt.
  obs.pause_at = 4 * 40;
  std::vector<std::shared_ptr<CollectingSink>> batch_sinks, interactive_sinks;
  for (const auto& r : batch) {
    batch_sinks.push_back(std::make_shared<CollectingSink>());
    ASSERT_TRUE(engine->submit(r, batch_sinks.back()).ok());
  }
  obs.wait_paused();
  for (const auto& r : interactive) {
    interactive_sinks.push_back(std::make_shared<CollectingSink>());
    const bool ok = engine->submit(r, interactive_sinks.back()).ok();
    if (!ok) obs.release();
    ASSERT_TRUE(ok);
  }
  obs.release();
  for (std::size_t i = 0; i < interactive.size(); ++i) {
    ASSERT_TRUE(interactive_sinks[i]->wait());
    EXPECT_EQ(interactive_sinks[i]->text(), expected_interactive[i].text) << kPrompts[4 + i];
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ASSERT_TRUE(batch_sinks[i]->wait());
    EXPECT_EQ(batch_sinks[i]->text(), expected_batch[i].text) << kPrompts[i];
    EXPECT_EQ(batch_sinks[i]->finish().usage.completion_tokens, kTokens);
  }
  EXPECT_GT(obs.preemptions.load(), 0u);
  EXPECT_EQ(obs.batch_tokens.load(), 4 * kTokens);        // on_batch_token only
  EXPECT_EQ(obs.interactive_tokens.load(), 4 * kTokens);  // first + next tokens
  EXPECT_EQ(obs.batch_finished.load(), 4);
  EXPECT_EQ(obs.interactive_finished.load(), 4);
  EXPECT_EQ(obs.most_batch_running.load(), 4);
  EXPECT_GT(obs.most_batch_waiting.load(), 0);  // preempted ones waited as batch
}

// The engine's steps, in order.
class StepObserver final : public EngineObserver {
 public:
  void on_request_rejected(ErrorCode) override {}
  void on_first_token(RequestId, double) override {}
  void on_next_token(RequestId, double) override {}
  void on_request_finished(const RequestStats&) override {}
  void on_step(const StepStats& st, const CounterDeltas&) override {
    std::lock_guard lock(mu_);
    steps_.push_back(st);
  }
  void on_gauges(const EngineGauges&) override {}
  std::vector<StepStats> steps() {
    std::lock_guard lock(mu_);
    return steps_;
  }

 private:
  std::mutex mu_;
  std::vector<StepStats> steps_;
};

// --batch-yield: a step of batch rows alone stops at a layer boundary when an interactive request
// arrives. The interactive request is submitted from the batch request's on_admitted hook (the
// engine thread, just before that request's first forward call), so it is in the inbox when the
// step reaches its first layer boundary: the step is cut (all its tokens reported dropped), and
// both requests still produce exactly what they produce alone (the batch prompt is computed again).
TEST(LlmEnginePriority, BatchYieldCutsABatchOnlyStepForAnInteractiveArrival) {
  EngineConfig c = real_model_config();
  c.batch_yield = true;
  StepObserver obs;
  auto engine = make_engine(c, &obs);
  ASSERT_TRUE(engine);
  auto alone = make_engine(real_model_config());
  ASSERT_TRUE(alone);
  GenerationRequest batch = make_request(*engine, kPrompts[0], 20, /*temperature=*/0.8f, /*seed=*/7);
  batch.params.ignore_eos = true;
  batch.request_class = RequestClass::kBatch;
  GenerationRequest interactive = make_request(*engine, kPrompts[1], 20, /*temperature=*/0.8f, /*seed=*/8);
  interactive.params.ignore_eos = true;
  const Output expected_batch = run_alone(*alone, batch), expected_interactive = run_alone(*alone, interactive);

  auto batch_sink = std::make_shared<CollectingSink>(), interactive_sink = std::make_shared<CollectingSink>();
  std::atomic<bool> submitted{false};
  batch_sink->admitted = [&] { submitted = engine->submit(interactive, interactive_sink).ok(); };
  ASSERT_TRUE(engine->submit(batch, batch_sink).ok());
  ASSERT_TRUE(batch_sink->wait());
  ASSERT_TRUE(interactive_sink->wait());
  EXPECT_TRUE(submitted.load());
  EXPECT_EQ(batch_sink->text(), expected_batch.text);
  EXPECT_EQ(interactive_sink->text(), expected_interactive.text);
  int cut = 0;
  for (const StepStats& st : obs.steps()) {
    if (st.dropped_tokens == 0) continue;
    ++cut;
    EXPECT_EQ(st.dropped_tokens, int(batch.prompt_tokens.size()));  // the batch prompt's whole step
    EXPECT_EQ(st.batch_tokens, st.dropped_tokens);
  }
  EXPECT_EQ(cut, 1);
}

// Batch lines filling --max-waiting never turn an interactive request away; interactive requests
// still count against it among themselves. (The engine is not started, so nothing is drained.)
TEST(LlmEnginePriority, BatchLinesDoNotFillTheWaitingQueueForInteractiveRequests) {
  EngineConfig c = real_model_config();
  c.max_waiting = 3;
  auto created = LlmEngine::create(c, nullptr);
  ASSERT_TRUE(created.ok());
  LlmEngine& engine = **created;
  auto sink = std::make_shared<CollectingSink>();
  GenerationRequest batch = make_request(engine, kPrompts[0], 4);
  batch.request_class = RequestClass::kBatch;
  const GenerationRequest interactive = make_request(engine, kPrompts[1], 4);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(engine.submit(batch, sink).ok());
  const auto full = engine.submit(batch, sink);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(engine.submit(interactive, sink).ok()) << i;
  const auto too_many = engine.submit(interactive, sink);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, ErrorCode::kResourceExhausted);
  EXPECT_FALSE(engine.submit(batch, sink).ok());
  engine.stop();
}

}  // namespace
}  // namespace ladle::scheduler
