// LlmEngine cancellation on the real trained model (stories260K): a cancel in any state (queued,
// prefilling, decoding, or through a sink that is gone) frees the request's blocks before the
// next step, and a cancel that lands mid-step drops the request at the next layer boundary
// without touching the others.
#include "scheduler/llm_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/scheduler/real_engine.h"

namespace ladle::scheduler {
namespace {

using namespace testing_real;

// After `id` is reported finished as cancelled, the next gauges come before any step and show it gone.
void expect_freed_before_next_step(const std::vector<RecordingObserver::Event>& ev, RequestId id, int used_after) {
  using E = RecordingObserver::Event;
  auto it = std::find_if(ev.begin(), ev.end(), [&](const E& e) { return e.kind == E::kFinished && e.id == id; });
  ASSERT_NE(it, ev.end());
  EXPECT_EQ(it->reason, FinishReason::kCancelled);
  auto g = std::find_if(it, ev.end(), [](const E& e) { return e.kind == E::kGauges || e.kind == E::kStep; });
  ASSERT_NE(g, ev.end());
  ASSERT_EQ(g->kind, E::kGauges) << "a step ran before the cancelled request's blocks were released";
  EXPECT_EQ(g->gauges.kv_blocks_used, used_after);
}

TEST(LlmEngine, CancelInEveryStateFreesBlocksBeforeTheNextStep) {
  EngineConfig c = real_model_config();
  c.max_running = 1;          // a second request must wait
  c.max_batched_tokens = 16;  // a long prompt takes many prefill steps
  RecordingObserver obs;
  auto engine = make_engine(c, &obs);
  ASSERT_TRUE(engine);
  using E = RecordingObserver::Event;

  // Decoding: wait for its first token, then cancel.
  auto decoding = make_request(*engine, "Once upon a time", 400);
  decoding.params.ignore_eos = true;
  auto s1 = std::make_shared<CollectingSink>();
  RequestId id1 = *engine->submit(decoding, s1);
  ASSERT_TRUE(obs.wait_for([&](const auto& ev) {
    return std::any_of(ev.begin(), ev.end(), [&](const E& e) { return e.kind == E::kFirstToken && e.id == id1; });
  }));
  // Waiting: queued behind the decoding one (max_running = 1).
  auto s2 = std::make_shared<CollectingSink>();
  RequestId id2 = *engine->submit(make_request(*engine, "The cat sat", 10), s2);
  engine->cancel(id2);
  ASSERT_TRUE(s2->wait());
  EXPECT_EQ(s2->finish().reason, FinishReason::kCancelled);
  EXPECT_EQ(s2->finish().usage.completion_tokens, 0);
  engine->cancel(id1);
  ASSERT_TRUE(s1->wait());
  EXPECT_EQ(s1->finish().reason, FinishReason::kCancelled);
  expect_freed_before_next_step(obs.events(), id1, 0);

  // Prefilling: a ~400-token prompt at 16 tokens a step; cancel after a few prefill steps.
  auto s3 = std::make_shared<CollectingSink>();
  const std::size_t steps_before = obs.events().size();
  RequestId id3 = *engine->submit(make_request(*engine, long_prefix(), 10), s3);
  ASSERT_TRUE(obs.wait_for([&](const auto& ev) {
    int prefill_steps = 0;
    for (std::size_t i = steps_before; i < ev.size(); ++i) prefill_steps += ev[i].kind == E::kStep && ev[i].step.prefill_tokens > 0;
    return prefill_steps >= 3;
  }));
  engine->cancel(id3);
  ASSERT_TRUE(s3->wait());
  EXPECT_EQ(s3->finish().reason, FinishReason::kCancelled);
  EXPECT_EQ(s3->finish().usage.completion_tokens, 0);
  expect_freed_before_next_step(obs.events(), id3, 0);
  const auto g = engine->gauges();
  EXPECT_EQ(g.num_running, 0);
  EXPECT_EQ(g.num_waiting, 0);
  EXPECT_EQ(g.kv_blocks_used, 0);
}

TEST(LlmEngine, AGoneSinkCancelsItsRequest) {
  RecordingObserver obs;
  auto engine = make_engine(real_model_config(), &obs);
  ASSERT_TRUE(engine);
  auto r = make_request(*engine, "Once upon a time", 400);
  r.params.ignore_eos = true;
  RequestId id;
  {
    auto sink = std::make_shared<CollectingSink>();
    id = *engine->submit(r, sink);
  }  // the client is gone before its first token
  using E = RecordingObserver::Event;
  ASSERT_TRUE(obs.wait_for([&](const auto& ev) {
    return std::any_of(ev.begin(), ev.end(), [&](const E& e) { return e.kind == E::kFinished && e.id == id; });
  }));
  auto ev = obs.events();
  auto it = std::find_if(ev.begin(), ev.end(), [&](const E& e) { return e.kind == E::kFinished && e.id == id; });
  EXPECT_EQ(it->reason, FinishReason::kCancelled);
  ASSERT_TRUE(obs.wait_for([&](const auto&) { return engine->gauges().kv_blocks_used == 0; }));
}


// A request cancelled while its long prefill chunk is being computed leaves the step at the next
// layer boundary, and its blocks are released there and then. The first attempt makes that happen
// on any machine: the engine is held in the partner's first delta while the prompt is submitted,
// so the next step holds the partner's decode and the whole prompt; and the cancel comes from the
// prompt's on_admitted, which the engine calls after scheduling it and before the forward call.
// That step must report the prompt's rows as dropped, after the request's finish. The other
// attempts cancel from this thread at spread-out moments (landing before, inside or after the
// step, as timing falls) and check on each that a cancel landing mid-step leaves no token, that
// nothing leaks, and that the request decoding alongside produces exactly its solo text.
TEST(LlmEngine, CancellingALongPrefillDropsItMidStepWithoutHarmingOthers) {
  EngineConfig c = real_model_config();
  c.max_batched_tokens = 512;  // the whole long prompt is one chunk
  c.no_prefix_caching = true;  // every attempt computes the whole prompt
  RecordingObserver obs;
  auto engine = make_engine(c, &obs);
  ASSERT_TRUE(engine);
  using E = RecordingObserver::Event;
  auto partner = make_request(*engine, "Once upon a time", 200);
  partner.params.ignore_eos = true;
  const std::string solo = run_alone(*engine, partner).text;
  const auto long_prompt = make_request(*engine, long_prefix(), 10);
  const int prompt_len = int(long_prompt.prompt_tokens.size());
  ASSERT_GT(prompt_len, 200);

  // How long the prompt's step takes uncancelled.
  run_alone(*engine, long_prompt);
  double step_seconds = 0;
  for (const E& e : obs.events())
    if (e.kind == E::kStep && e.step.prefill_tokens >= prompt_len / 2) step_seconds = e.step.duration;
  ASSERT_GT(step_seconds, 0);

  bool dropped_in_step = false;  // by the first attempt, whose cancel comes from on_admitted
  for (int attempt = 0; attempt < 9; ++attempt) {
    auto ps = std::make_shared<CollectingSink>();
    auto ls = std::make_shared<CollectingSink>();
    std::atomic<RequestId> id{0};
    std::promise<void> decoding, submitted;
    if (attempt == 0) {
      ps->delta = [&, first = true]() mutable {
        if (!first) return;
        first = false;
        decoding.set_value();
        submitted.get_future().wait();  // the engine waits here until the prompt is in its inbox
      };
      ls->admitted = [&] { engine->cancel(id.load()); };
    }
    ASSERT_TRUE(engine->submit(partner, ps).ok());
    if (attempt == 0) {
      decoding.get_future().wait();
    } else {
      std::this_thread::sleep_for(2ms);  // the partner is decoding, unless this machine is slow
    }
    const std::size_t before = obs.events().size();
    id = *engine->submit(long_prompt, ls);
    if (attempt == 0) {
      submitted.set_value();
    } else {
      std::this_thread::sleep_for(std::chrono::duration<double>(step_seconds * (attempt - 1) / 8.0));
      engine->cancel(id);
    }
    ASSERT_TRUE(ls->wait());
    ASSERT_TRUE(ps->wait());
    EXPECT_EQ(ps->text(), solo) << "attempt " << attempt;
    const auto ev = obs.events();
    bool finished = false, dropped_here = false;
    for (std::size_t i = before; i < ev.size(); ++i) {
      finished |= ev[i].kind == E::kFinished && ev[i].id == id;
      if (ev[i].kind != E::kStep || ev[i].step.dropped_tokens == 0) continue;
      EXPECT_TRUE(finished) << "the request is finished (and its blocks freed) before its step ends";
      // Only the prompt's rows left the step (or, for a cancel that came late, its decode row).
      if (ev[i].step.dropped_tokens == prompt_len) {
        dropped_here = true;
      } else {
        EXPECT_EQ(ev[i].step.dropped_tokens, 1) << "attempt " << attempt;
      }
    }
    // On a loaded machine the cancel may come after the prompt's step, or after the whole request;
    // a cancel that landed inside the step leaves no token behind.
    const Finish f = ls->finish();
    if (f.reason != FinishReason::kCancelled) {
      EXPECT_EQ(f.usage.completion_tokens, 10) << "attempt " << attempt;
    }
    if (dropped_here) {
      EXPECT_EQ(f.reason, FinishReason::kCancelled);
      EXPECT_EQ(f.usage.completion_tokens, 0);
    }
    if (attempt == 0) dropped_in_step = dropped_here;
  }
  EXPECT_TRUE(dropped_in_step) << "a cancel made after the prompt was scheduled did not drop it from its step";
  const auto g = engine->gauges();
  EXPECT_EQ(g.num_running, 0);
  EXPECT_EQ(g.kv_blocks_used, 0);
}

}  // namespace
}  // namespace ladle::scheduler
