// LlmEngine on the real trained model (stories260K): batching, preemption, prefix caching and
// cancellation must never change what a request produces, and must never leak a block.
#include "scheduler/llm_engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ladle::scheduler {
namespace {

using namespace std::chrono_literals;

// Collects one request's output; wait() blocks until on_finish.
class CollectingSink final : public TokenSink {
 public:
  void on_delta(std::string_view text, int num_tokens) override {
    std::lock_guard lock(mu_);
    text_ += text;
    ++num_deltas_;
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
};

EngineConfig real_model_config() {
  EngineConfig c;
  c.model_path = std::string(LADLE_MODELS_DIR) + "/stories260K.bin";
  c.tokenizer_path = std::string(LADLE_MODELS_DIR) + "/tok512.bin";
  c.threads = 1;
  return c;
}

std::unique_ptr<LlmEngine> make_engine(EngineConfig c, EngineObserver* obs = nullptr) {
  auto e = LlmEngine::create(std::move(c), obs);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().message);
  if (!e) return nullptr;
  (*e)->start();
  return std::move(*e);
}

GenerationRequest make_request(const Engine& engine, const std::string& prompt, int max_tokens,
                               float temperature = 0, std::uint64_t seed = 1) {
  GenerationRequest r;
  r.prompt_tokens = *engine.tokenize(prompt, true);
  r.params.temperature = temperature;
  r.params.max_tokens = max_tokens;
  r.params.seed = seed;
  return r;
}

const std::vector<std::string> kPrompts = {
    "Once upon a time", "Lily and Tom", "The cat sat", "One day, a little bird", "Max had a big red ball",
    "The sun was hot", "Sara liked to draw", "There was a tall tree", "Ben wanted a cake", "The dog ran",
    "Mom said", "In the park", "A frog", "The little boat", "Tim and Sue went to the beach", "It was a rainy day"};

struct Output {
  std::string text;
  FinishReason reason;
  int tokens;
};

// Runs every prompt at once (all submitted before the engine can finish any) and returns outputs.
std::vector<Output> run_together(LlmEngine& engine, const std::vector<GenerationRequest>& reqs) {
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

Output run_alone(LlmEngine& engine, const GenerationRequest& r) { return run_together(engine, {r})[0]; }

TEST(LlmEngine, GreedyBatchedEqualsAlone) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  std::vector<GenerationRequest> reqs;
  for (const auto& p : kPrompts) reqs.push_back(make_request(*engine, p, 64));
  std::vector<Output> alone;
  for (const auto& r : reqs) alone.push_back(run_alone(*engine, r));
  std::vector<Output> together = run_together(*engine, reqs);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(together[i].text, alone[i].text) << kPrompts[i];
    EXPECT_EQ(together[i].reason, alone[i].reason);
    EXPECT_EQ(together[i].tokens, alone[i].tokens);
    EXPECT_FALSE(alone[i].text.empty());
  }
}

// The greedy argmax screen changes no token: greedy and seeded sampled requests, alone and in
// steps of up to three sequences (screened when all are greedy) or sixteen (never screened), give
// the same outputs with it as with --no-argmax-screen.
TEST(LlmEngine, ArgmaxScreenChangesNoToken) {
  EngineConfig c = real_model_config();
  c.max_running = 3;
  auto screened = make_engine(c);
  c.no_argmax_screen = true;
  auto full = make_engine(c);
  c.max_running = 16;
  auto wide = make_engine(c);
  ASSERT_TRUE(screened && full && wide);
  std::vector<GenerationRequest> reqs;
  for (std::size_t i = 0; i < kPrompts.size(); ++i)
    reqs.push_back(make_request(*screened, kPrompts[i], 48, i % 4 == 3 ? 0.8f : 0.0f, 2000 + i));
  const std::vector<Output> want = run_together(*wide, reqs);
  const std::vector<Output> got = run_together(*screened, reqs), unscreened = run_together(*full, reqs);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(got[i].text, want[i].text) << kPrompts[i];
    EXPECT_EQ(unscreened[i].text, want[i].text) << kPrompts[i];
    EXPECT_EQ(run_alone(*screened, reqs[i]).text, want[i].text) << kPrompts[i];
  }
}

// --kv-cache-dtype f16: twice the blocks in the same --kv-cache-mb, and batching still changes
// nothing (half K/V is read the same way whatever the batch). A bad name is refused at create.
TEST(LlmEngine, HalfKvCacheDoublesCapacityAndKeepsBatchInvariance) {
  EngineConfig c = real_model_config();
  c.kv_cache_mb = 5;  // 256 blocks of 16 tokens × 5 layers × 2 × 32 floats
  auto f32 = make_engine(c);
  c.kv_cache_dtype = "f16";
  auto engine = make_engine(c);
  ASSERT_TRUE(f32 && engine);
  EXPECT_EQ(engine->model_info().kv_blocks_total, 2 * f32->model_info().kv_blocks_total);
  std::vector<GenerationRequest> reqs;
  for (std::size_t i = 0; i < 8; ++i) reqs.push_back(make_request(*engine, kPrompts[i], 48));
  std::vector<Output> alone;
  for (const auto& r : reqs) alone.push_back(run_alone(*engine, r));
  std::vector<Output> together = run_together(*engine, reqs);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(together[i].text, alone[i].text) << kPrompts[i];
    EXPECT_FALSE(alone[i].text.empty());
  }
  c.kv_cache_dtype = "q8";
  auto bad = LlmEngine::create(c, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("f16"), std::string::npos) << bad.error().message;
}

TEST(LlmEngine, SeededSamplingDoesNotDependOnTheBatch) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  std::vector<GenerationRequest> reqs;
  for (std::size_t i = 0; i < 8; ++i) reqs.push_back(make_request(*engine, kPrompts[i], 48, 1.0f, 1000 + i));
  std::vector<Output> alone;
  for (const auto& r : reqs) alone.push_back(run_alone(*engine, r));
  std::vector<Output> together = run_together(*engine, reqs);
  for (std::size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(together[i].text, alone[i].text) << kPrompts[i];
}

TEST(LlmEngine, PreemptionDoesNotChangeOutputs) {
  EngineConfig tight = real_model_config();
  tight.kv_cache_mb = 1;  // 1 MiB = 51 blocks of 16 tokens: far less than 16 × ~200 tokens
  RecordingObserver obs;
  auto engine = make_engine(tight, &obs);
  ASSERT_TRUE(engine);
  auto roomy = make_engine(real_model_config());
  ASSERT_TRUE(roomy);
  std::vector<GenerationRequest> reqs;
  for (const auto& p : kPrompts) {
    reqs.push_back(make_request(*engine, p, 180));
    reqs.back().params.ignore_eos = true;
  }
  std::vector<Output> expected;
  for (const auto& r : reqs) expected.push_back(run_alone(*roomy, r));
  std::vector<Output> got = run_together(*engine, reqs);
  EXPECT_GT(obs.preemptions(), 0u);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(got[i].text, expected[i].text) << kPrompts[i];
    EXPECT_EQ(got[i].tokens, 180);
  }
  // Gauges are published right after the last finish; give the step thread that moment.
  EXPECT_TRUE(obs.wait_for([&](const auto&) { return engine->gauges().kv_blocks_used == 0; }, 5s));
}

std::string long_prefix() {
  std::string s;
  for (int i = 0; i < 12; ++i) s += "Lily and Tom went to the park to play with a big red ball. ";
  return s;
}

TEST(LlmEngine, SharedPrefixIsServedFromCache) {
  RecordingObserver obs;
  auto engine = make_engine(real_model_config(), &obs);
  ASSERT_TRUE(engine);
  EngineConfig no_cache_cfg = real_model_config();
  no_cache_cfg.no_prefix_caching = true;
  auto no_cache = make_engine(no_cache_cfg);
  ASSERT_TRUE(no_cache);

  const std::string prefix = long_prefix();
  auto a = make_request(*engine, prefix + "One day", 16);
  auto b = make_request(*engine, prefix + "The end", 16);
  ASSERT_GE(a.prompt_tokens.size(), 200u);
  ASSERT_LT(a.prompt_tokens.size(), 480u);
  auto sa = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->submit(a, sa).ok());
  ASSERT_TRUE(sa->wait());
  EXPECT_EQ(sa->finish().usage.cached_prompt_tokens, 0);
  auto sb = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->submit(b, sb).ok());
  ASSERT_TRUE(sb->wait());
  EXPECT_GE(sb->finish().usage.cached_prompt_tokens, 192);
  EXPECT_GE(obs.prefix_hits(), 192u);
  EXPECT_EQ(sb->text(), run_alone(*no_cache, b).text);
}

TEST(LlmEngine, StopStringEndsTheRequestAndIsNeverStreamed) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  auto r = make_request(*engine, "Once upon a time", 100);
  const std::string full = run_alone(*engine, r).text;
  const auto pos = full.find(" named");
  ASSERT_NE(pos, std::string::npos) << full;
  r.params.stop = {" named"};
  Output got = run_alone(*engine, r);
  EXPECT_EQ(got.text, full.substr(0, pos));
  EXPECT_EQ(got.reason, FinishReason::kStop);
}

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

TEST(LlmEngine, SubmitRejectsWhatCanNeverRun) {
  EngineConfig c = real_model_config();
  c.max_waiting = 2;
  auto created = LlmEngine::create(c, nullptr);
  ASSERT_TRUE(created.ok());
  LlmEngine& engine = **created;  // not started: submissions stay queued
  GenerationRequest too_long;
  too_long.prompt_tokens.assign(engine.model_info().context_length, 300);
  auto r1 = engine.submit(too_long, {});
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(engine.submit(GenerationRequest{}, {}).ok());  // empty prompt
  GenerationRequest bad_id;
  bad_id.prompt_tokens = {1, 99999};
  EXPECT_FALSE(engine.submit(bad_id, {}).ok());

  auto ok = make_request(engine, "Hi", 4);
  auto s1 = std::make_shared<CollectingSink>(), s2 = std::make_shared<CollectingSink>();
  EXPECT_TRUE(engine.submit(ok, s1).ok());
  EXPECT_TRUE(engine.submit(ok, s2).ok());
  auto full = engine.submit(ok, std::make_shared<CollectingSink>());
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);

  engine.stop();  // queued requests are answered, new ones refused
  EXPECT_TRUE(s1->wait(1s));
  EXPECT_EQ(s1->finish().reason, FinishReason::kCancelled);
  auto late = engine.submit(ok, s1);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
}

TEST(LlmEngine, TokenizeRejectsInvalidUtf8AndDetokenizeRoundTrips) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  EXPECT_FALSE(engine->tokenize("bad \xff byte", true).ok());
  auto ids = engine->tokenize("Once upon a time", true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<TokenId>{1, 403, 407, 261, 378}));
  EXPECT_EQ(*engine->detokenize(*ids), "Once upon a time");
  EXPECT_FALSE(engine->detokenize(std::vector<TokenId>{100000}).ok());
}

// A request cancelled while its long prefill chunk is being computed leaves the step at the next
// layer boundary, and its blocks are released there and then. Whether a given cancel lands
// mid-step is timing, so the test tries cancels at spread-out moments until one does — seen as a
// step reporting the prompt's rows as dropped, after the request's finish — and checks on every
// attempt that the request ends cancelled with no token, that nothing leaks, and that a request
// decoding alongside produces exactly its solo text.
TEST(LlmEngine, CancellingALongPrefillDropsItMidStepWithoutHarmingOthers) {
  EngineConfig c = real_model_config();
  c.max_batched_tokens = 512;  // the whole long prompt is one chunk
  c.no_prefix_caching = true;  // every attempt computes the whole prompt
  RecordingObserver obs;
  auto engine = make_engine(c, &obs);
  ASSERT_TRUE(engine);
  using E = RecordingObserver::Event;
  auto partner = make_request(*engine, "Once upon a time", 60);
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

  bool dropped = false;
  for (int attempt = 0; attempt < 40 && !dropped; ++attempt) {
    auto ps = std::make_shared<CollectingSink>();
    ASSERT_TRUE(engine->submit(partner, ps).ok());
    std::this_thread::sleep_for(2ms);  // the partner is decoding
    const std::size_t before = obs.events().size();
    auto ls = std::make_shared<CollectingSink>();
    RequestId id = *engine->submit(long_prompt, ls);
    std::this_thread::sleep_for(std::chrono::duration<double>(step_seconds * (attempt % 8) / 8.0));
    engine->cancel(id);
    ASSERT_TRUE(ls->wait());
    EXPECT_EQ(ls->finish().reason, FinishReason::kCancelled);
    EXPECT_EQ(ls->finish().usage.completion_tokens, 0);
    ASSERT_TRUE(ps->wait());
    EXPECT_EQ(ps->text(), solo) << "attempt " << attempt;
    const auto ev = obs.events();
    bool finished = false;
    for (std::size_t i = before; i < ev.size(); ++i) {
      finished |= ev[i].kind == E::kFinished && ev[i].id == id;
      if (ev[i].kind != E::kStep || ev[i].step.dropped_tokens == 0) continue;
      EXPECT_TRUE(finished) << "the request is finished (and its blocks freed) before its step ends";
      EXPECT_EQ(ev[i].step.dropped_tokens, prompt_len);  // only the prompt's rows left the step
      dropped = true;
    }
  }
  EXPECT_TRUE(dropped) << "no cancel landed inside the prompt's step in 40 attempts";
  const auto g = engine->gauges();
  EXPECT_EQ(g.num_running, 0);
  EXPECT_EQ(g.kv_blocks_used, 0);
}

}  // namespace
}  // namespace ladle::scheduler
