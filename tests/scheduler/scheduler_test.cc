#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "tests/testing/builders.h"

namespace ladle::scheduler {
namespace {

using ladle::testing::FakeModel;
using ladle::testing::make_config;
using ladle::testing::make_pool;
using ladle::testing::make_tokens;
using ladle::testing::run_step;
using ladle::testing::run_to_completion;
using V = std::vector<BlockId>;
using Ids = std::vector<RequestId>;

void expect_ok(const Scheduler& s) {
  const Status st = s.check_invariants();
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
}

// One schedule entry compared whole, with a readable failure message.
::testing::AssertionResult is_sched(const ScheduledSequence& got, RequestId id, int n, int before, bool samples) {
  if (got.id == id && got.num_new_tokens == n && got.num_computed_before == before && got.samples == samples)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got {" << got.id << ", " << got.num_new_tokens << ", "
                                       << got.num_computed_before << ", " << got.samples << "}";
}
#define EXPECT_SCHED(got, ...) EXPECT_TRUE(is_sched(got, __VA_ARGS__))

TEST(SchedulerTest, PrefillThenDecodeWithExactBlocks) {
  auto pool = make_pool(8);
  Scheduler s(make_config(), pool);
  FakeModel model(8, 4);
  s.add(7, make_tokens(10), /*max_tokens=*/3, false);
  EXPECT_EQ(s.num_waiting(), 1);

  auto step = run_step(s, model);
  ASSERT_EQ(step.out.seqs.size(), 1u);
  EXPECT_SCHED(step.out.seqs[0], 7, 10, 0, true);
  EXPECT_EQ(step.out.num_prefill_tokens, 10);
  EXPECT_EQ(step.out.num_decode_tokens, 0);
  EXPECT_EQ(s.find(7)->block_table(), (V{0, 1, 2}));
  EXPECT_EQ(s.find(7)->num_computed_tokens(), 10);
  EXPECT_EQ(s.find(7)->num_tokens(), 11);
  EXPECT_EQ(step.update.appended.size(), 1u);

  step = run_step(s, model);
  EXPECT_SCHED(step.out.seqs[0], 7, 1, 10, true);
  EXPECT_EQ(step.out.num_decode_tokens, 1);
  EXPECT_EQ(s.find(7)->block_table(), (V{0, 1, 2}));
  // Third token finishes with length. 12 tokens were computed, so all three blocks are full and
  // cached; they go to the back of the free queue tail first.
  step = run_step(s, model);
  ASSERT_EQ(step.update.finished.size(), 1u);
  EXPECT_EQ(step.update.finished[0].id, 7u);
  EXPECT_EQ(step.update.finished[0].reason, FinishReason::kLength);
  EXPECT_EQ(s.find(7), nullptr);
  EXPECT_EQ(pool.stats().num_used, 0);
  EXPECT_EQ(pool.free_queue_order(), (V{3, 4, 5, 6, 7, 2, 1, 0}));
  EXPECT_EQ(pool.stats().num_cached_free, 3);
  EXPECT_EQ(model.num_unwritten_reads(), 0);
  expect_ok(s);
}

TEST(SchedulerTest, ChunkedPrefillSharesTheBudgetWithDecodes) {
  auto pool = make_pool(16);
  Scheduler s(make_config(/*max_batched_tokens=*/6), pool);
  FakeModel model(16, 4);
  s.add(1, make_tokens(3), 10, false);
  run_step(s, model);  // 1 prefilled, now decoding
  s.add(2, make_tokens(13, 300), 10, false);

  auto step = run_step(s, model);
  ASSERT_EQ(step.out.seqs.size(), 2u);
  EXPECT_SCHED(step.out.seqs[0], 1, 1, 3, true);    // running decode first
  EXPECT_SCHED(step.out.seqs[1], 2, 5, 0, false);   // then a chunk of what budget is left
  EXPECT_EQ(step.out.num_batched_tokens, 6);
  EXPECT_EQ(step.out.num_prefill_tokens, 5);
  EXPECT_EQ(step.out.num_decode_tokens, 1);
  EXPECT_EQ(step.update.appended.size(), 1u);
  EXPECT_EQ(s.find(2)->block_table().size(), 2u);  // covers 5 tokens

  step = run_step(s, model);
  EXPECT_SCHED(step.out.seqs[1], 2, 5, 5, false);
  step = run_step(s, model);
  EXPECT_SCHED(step.out.seqs[1], 2, 3, 10, true);   // last chunk samples
  EXPECT_EQ(step.out.num_batched_tokens, 4);
  step = run_step(s, model);
  EXPECT_SCHED(step.out.seqs[1], 2, 1, 13, true);
  EXPECT_EQ(model.num_unwritten_reads(), 0);
  expect_ok(s);
}

// With max_decode_deferral D, waiting prompts are admitted ahead of running decodes, each
// decoding sequence is passed over at most D steps in a row, and once the queue is empty the
// decodes come first again.
TEST(SchedulerTest, DeferralAdmitsWaitingPromptsFirstForAtMostDSteps) {
  constexpr int kD = 2;
  auto pool = make_pool(64);
  auto config = make_config(/*max_batched_tokens=*/4);
  config.max_decode_deferral = kD;
  Scheduler s(config, pool);
  FakeModel model(64, 4);
  s.add(1, make_tokens(3), 50, true);
  run_step(s, model);  // 1 prefilled, now decoding
  for (RequestId id = 2; id <= 7; ++id) s.add(id, make_tokens(4, TokenId(100 * id)), 50, true);

  auto step = run_step(s, model);
  ASSERT_EQ(step.out.seqs.size(), 1u);
  EXPECT_SCHED(step.out.seqs[0], 2, 4, 0, true);  // the prompt, not 1's decode
  step = run_step(s, model);
  ASSERT_EQ(step.out.seqs.size(), 1u);
  EXPECT_SCHED(step.out.seqs[0], 3, 4, 0, true);
  step = run_step(s, model);  // 1 was passed over twice: it goes first now
  ASSERT_EQ(step.out.seqs.size(), 2u);
  EXPECT_SCHED(step.out.seqs[0], 1, 1, 3, true);
  EXPECT_SCHED(step.out.seqs[1], 4, 3, 0, false);

  // Until the queue is empty no decoding sequence waits more than D steps in a row, and every
  // step admits or continues a prompt.
  std::map<RequestId, int> waited;  // steps since each decoding sequence's last token
  int steps = 0;
  while (s.num_waiting() > 0) {
    ASSERT_LT(++steps, 50);
    std::set<RequestId> decoding;
    for (RequestId id : s.running_ids()) {
      const Sequence* seq = s.find(id);
      if (seq->num_computed_tokens() >= seq->num_prompt_tokens()) decoding.insert(id);
    }
    step = run_step(s, model);
    EXPECT_GT(step.out.num_prefill_tokens, 0);
    for (RequestId id : decoding) {
      const bool scheduled = std::any_of(step.out.seqs.begin(), step.out.seqs.end(),
                                         [&](const ScheduledSequence& x) { return x.id == id; });
      waited[id] = scheduled ? 0 : waited[id] + 1;
      EXPECT_LE(waited[id], kD) << "request " << id << " at step " << steps;
    }
  }
  EXPECT_GT(steps, 2);
  step = run_step(s, model);  // no queue: running sequences in admission order again
  ASSERT_EQ(step.out.seqs.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(step.out.seqs[i].id, RequestId(i + 1));
  EXPECT_EQ(model.num_unwritten_reads(), 0);
  expect_ok(s);
}

// A prompt admitted ahead of deferred decodes leaves free the blocks their next tokens need, so
// deferring never forces a preemption later.
TEST(SchedulerTest, DeferralLeavesTheDeferredDecodesTheirNextBlocks) {
  auto pool = make_pool(3);
  auto config = make_config(/*max_batched_tokens=*/16);
  config.max_decode_deferral = 4;
  Scheduler s(config, pool);
  FakeModel model(3, 4);
  s.add(1, make_tokens(4), 10, true);
  run_step(s, model);  // 4 tokens computed in one block; the next token needs a second block
  s.add(2, make_tokens(8, 300), 10, true);  // would take the two free blocks

  auto step = run_step(s, model);
  ASSERT_EQ(step.out.seqs.size(), 1u);
  EXPECT_SCHED(step.out.seqs[0], 1, 1, 4, true);
  EXPECT_TRUE(step.out.preempted.empty());
  EXPECT_EQ(s.waiting_ids(), (Ids{2}));
  EXPECT_EQ(s.num_preemptions(), 0u);
  expect_ok(s);
}

TEST(SchedulerTest, MaxRunningAndBudgetLimitAdmission) {
  auto pool = make_pool(32);
  Scheduler s(make_config(/*max_batched_tokens=*/8, /*max_running=*/2), pool);
  FakeModel model(32, 4);
  s.add(1, make_tokens(4), 5, false);
  s.add(2, make_tokens(4, 200), 5, false);
  s.add(3, make_tokens(4, 300), 5, false);
  auto step = run_step(s, model);
  ASSERT_EQ(step.out.seqs.size(), 2u);  // max_running
  EXPECT_EQ(s.running_ids(), (Ids{1, 2}));
  EXPECT_EQ(s.waiting_ids(), (Ids{3}));
  step = run_step(s, model);
  EXPECT_EQ(step.out.num_batched_tokens, 2);
  EXPECT_EQ(s.num_waiting(), 1);
  expect_ok(s);
}

TEST(SchedulerTest, PrefixHitSkipsCachedBlocksButRecomputesTheLastToken) {
  auto pool = make_pool(16);
  Scheduler s(make_config(), pool);
  FakeModel model(16, 4);
  const auto prompt = make_tokens(12);
  s.add(1, prompt, 2, false);
  const auto first = run_to_completion(s, model);
  EXPECT_EQ(pool.stats().hit_tokens, 0u);

  // Same 12-token prompt: 3 full blocks are cached, but the last token must produce logits, so
  // only 2 blocks (8 tokens) are served and positions 8..11 are computed.
  s.add(2, prompt, 2, false);
  auto step = run_step(s, model);
  EXPECT_SCHED(step.out.seqs[0], 2, 4, 8, true);
  EXPECT_EQ(s.find(2)->num_cached_tokens(), 8);
  EXPECT_EQ(s.find(2)->block_table()[0], 0);
  EXPECT_EQ(s.find(2)->block_table()[1], 1);
  EXPECT_EQ(pool.stats().queried_tokens, 24u);
  EXPECT_EQ(pool.stats().hit_tokens, 8u);
  auto rest = run_to_completion(s, model);
  // Same context, same fabricated model: same output as the cold run.
  rest[2].insert(rest[2].begin(), step.update.appended[0].second);
  EXPECT_EQ(rest[2], first.at(1));

  // A longer prompt sharing the 12 tokens hits all three blocks.
  s.add(3, ladle::testing::concat(prompt, make_tokens(3, 900)), 1, false);
  step = run_step(s, model);
  EXPECT_SCHED(step.out.seqs[0], 3, 3, 12, true);
  EXPECT_EQ(model.num_unwritten_reads(), 0);
  expect_ok(s);
}

TEST(SchedulerTest, StopsOnEosAndBosUnlessIgnored) {
  auto pool = make_pool(8);
  Scheduler s(make_config(), pool);
  s.add(1, make_tokens(3), 10, false);
  s.add(2, make_tokens(3, 50), 10, /*ignore_eos=*/true);
  s.add(3, make_tokens(3, 80), 10, false);
  auto out = s.schedule();
  const std::vector<TokenId> sampled = {kEosToken, kEosToken, kBosToken};
  const UpdateOutput u = s.update(out, sampled);
  ASSERT_EQ(u.appended.size(), 3u);
  ASSERT_EQ(u.finished.size(), 2u);
  EXPECT_EQ(u.finished[0].id, 1u);
  EXPECT_EQ(u.finished[0].reason, FinishReason::kStop);
  EXPECT_EQ(u.finished[1].id, 3u);
  EXPECT_EQ(s.find(2)->generated_tokens().size(), 1u);  // EOS appended, counted, ignored
  EXPECT_EQ(s.num_running(), 1);
  expect_ok(s);
}

// A model's own end-of-generation set (a byte-level BPE vocabulary's EOS and end-of-turn ids)
// replaces llama2.c's BOS/EOS: its ids stop, 1 and 2 are ordinary tokens.
TEST(SchedulerTest, StopsOnTheConfiguredStopTokens) {
  auto pool = make_pool(8);
  SchedulerConfig c = make_config();
  c.stop_tokens = {128001, 128009};  // Llama 3's <|end_of_text|>, <|eot_id|>
  Scheduler s(c, pool);
  s.add(1, make_tokens(3), 10, false);
  s.add(2, make_tokens(3, 50), 10, false);
  s.add(3, make_tokens(3, 80), 10, /*ignore_eos=*/true);
  auto out = s.schedule();
  const std::vector<TokenId> sampled = {128009, kEosToken, 128009};
  const UpdateOutput u = s.update(out, sampled);
  ASSERT_EQ(u.finished.size(), 1u);
  EXPECT_EQ(u.finished[0].id, 1u);
  EXPECT_EQ(u.finished[0].reason, FinishReason::kStop);
  EXPECT_TRUE(s.is_stop_token(128001));
  EXPECT_FALSE(s.is_stop_token(kEosToken));
  EXPECT_EQ(s.num_running(), 2);
  expect_ok(s);
}

TEST(SchedulerTest, ContextLimitFinishesWithLength) {
  auto pool = make_pool(8);
  Scheduler s(make_config(64, 8, 4, /*max_model_len=*/12), pool);
  FakeModel model(8, 4);
  s.add(1, make_tokens(10), 100, true);
  const auto out = run_to_completion(s, model);
  EXPECT_EQ(out.at(1).size(), 2u);  // 10 + 2 == max_model_len
}

TEST(SchedulerTest, LoneSequenceIsCappedByPoolCapacityInsteadOfStalling) {
  auto pool = make_pool(3);  // 12 tokens of KV
  Scheduler s(make_config(), pool);
  FakeModel model(3, 4);
  EXPECT_EQ(s.max_sequence_len(), 12);
  s.add(1, make_tokens(4), 100, true);
  const auto out = run_to_completion(s, model, 50);
  EXPECT_EQ(out.at(1).size(), 8u);
  EXPECT_EQ(s.num_running() + s.num_waiting(), 0);
  EXPECT_EQ(s.num_preemptions(), 0u);
}

TEST(SchedulerTest, PreemptsTheMostRecentlyAdmittedAndRequeuesItFirst) {
  auto pool = make_pool(6);
  Scheduler s(make_config(), pool);
  FakeModel model(6, 4);
  s.add(1, make_tokens(4, 100), 20, true);
  s.add(2, make_tokens(4, 200), 20, true);
  s.add(3, make_tokens(4, 300), 20, true);
  run_step(s, model);                       // blocks 0, 1, 2
  auto step = run_step(s, model);           // each needs a 2nd block: 3, 4, 5
  EXPECT_EQ(s.find(3)->block_table(), (V{2, 5}));
  s.add(4, make_tokens(4, 400), 20, true);  // arrives while the pool is full
  for (int i = 0; i < 3; ++i) step = run_step(s, model);  // 8 tokens each: both blocks full
  EXPECT_TRUE(step.out.preempted.empty());
  // Next token of seq 1 needs a third block: seq 3 (admitted last) is preempted for it; seq 2
  // then takes the freed tail and nothing new is admitted in a step that preempted.
  step = run_step(s, model);
  EXPECT_EQ(step.out.preempted, (Ids{3}));
  EXPECT_EQ(s.num_preemptions(), 1u);
  EXPECT_EQ(s.running_ids(), (Ids{1, 2}));
  EXPECT_EQ(s.waiting_ids(), (Ids{3, 4}));  // in front of the newer arrival
  EXPECT_EQ(s.find(3)->num_computed_tokens(), 0);
  EXPECT_TRUE(s.find(3)->block_table().empty());
  EXPECT_EQ(s.find(1)->block_table(), (V{0, 3, 5}));
  EXPECT_EQ(s.find(2)->block_table(), (V{1, 4, 2}));
  // Seq 3's full blocks were freed tail first and their hashes are gone only once reused.
  EXPECT_EQ(pool.stats().num_used, 6);
  expect_ok(s);
}

// The same workload with a roomy pool and with a pool so small that preemption happens: every
// request must generate exactly the same tokens (the fake model hashes the whole context read
// back through the block tables, so any wrong block or position would change them).
TEST(SchedulerTest, PreemptedSequencesProduceTheSameOutput) {
  auto workload = [](Scheduler& s) {
    const auto shared = make_tokens(8, 500);
    for (RequestId id = 1; id <= 8; ++id) {
      auto prompt = id % 2 ? shared : make_tokens(3 + int(id), TokenId(100 * id));
      prompt.push_back(TokenId(id));
      s.add(id, prompt, 10 + int(id), true);
    }
  };
  auto big = make_pool(64);
  Scheduler roomy(make_config(16), big);
  FakeModel m1(64, 4);
  workload(roomy);
  const auto expected = run_to_completion(roomy, m1);
  EXPECT_EQ(roomy.num_preemptions(), 0u);

  auto small = make_pool(12);
  Scheduler tight(make_config(16), small);
  FakeModel m2(12, 4);
  workload(tight);
  std::map<RequestId, std::vector<TokenId>> got;
  for (int i = 0; i < 2000 && tight.num_running() + tight.num_waiting() > 0; ++i) {
    const auto step = run_step(tight, m2);
    for (const auto& [id, t] : step.update.appended) got[id].push_back(t);
    const Status st = tight.check_invariants();
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  EXPECT_GT(tight.num_preemptions(), 0u);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(m2.num_unwritten_reads(), 0);
  EXPECT_EQ(small.stats().num_used, 0);
  EXPECT_GT(small.stats().hit_tokens, 0u);
}

TEST(SchedulerTest, AbortInEveryStateReturnsAllBlocks) {
  auto pool = make_pool(8);
  Scheduler s(make_config(/*max_batched_tokens=*/6), pool);
  FakeModel model(8, 4);
  s.add(1, make_tokens(4, 100), 50, true);   // will be decoding
  s.add(2, make_tokens(12, 200), 50, true);  // will be mid-prefill
  s.add(3, make_tokens(4, 300), 50, true);   // will be waiting
  run_step(s, model);                         // 1 full prefill (4), 2 first chunk (2)
  run_step(s, model);                         // 1 decodes, 2 second chunk (5)
  EXPECT_EQ(s.find(1)->num_computed_tokens(), 5);
  EXPECT_EQ(s.find(2)->num_computed_tokens(), 7);
  EXPECT_EQ(s.find(3)->status(), SequenceStatus::kWaiting);
  EXPECT_TRUE(s.abort(2));  // mid-prefill
  EXPECT_TRUE(s.abort(3));  // waiting
  EXPECT_FALSE(s.abort(3));
  expect_ok(s);
  EXPECT_EQ(pool.stats().num_used, 2);
  EXPECT_TRUE(s.abort(1));  // decoding
  EXPECT_EQ(pool.stats().num_used, 0);
  expect_ok(s);

  // Preempted: fill a 3-block pool with two sequences until one is pushed back.
  auto tiny = make_pool(3);
  Scheduler t(make_config(), tiny);
  FakeModel m(3, 4);
  t.add(1, make_tokens(4, 100), 50, true);
  t.add(2, make_tokens(4, 200), 50, true);
  for (int i = 0; i < 10 && t.num_preemptions() == 0; ++i) run_step(t, m);
  ASSERT_EQ(t.num_preemptions(), 1u);
  EXPECT_EQ(t.waiting_ids(), (Ids{2}));
  EXPECT_TRUE(t.abort(2));
  EXPECT_TRUE(t.finish(1));
  EXPECT_EQ(tiny.stats().num_used, 0);
  EXPECT_FALSE(t.finish(1));
  expect_ok(t);
}

TEST(SchedulerTest, UpdateSkipsRequestsAbortedAfterSchedule) {
  auto pool = make_pool(8);
  Scheduler s(make_config(), pool);
  s.add(1, make_tokens(3), 5, false);
  s.add(2, make_tokens(3, 50), 5, false);
  const auto out = s.schedule();
  EXPECT_TRUE(s.abort(1));
  const std::vector<TokenId> sampled = {10, 20};
  const UpdateOutput u = s.update(out, sampled);
  ASSERT_EQ(u.appended.size(), 1u);
  EXPECT_EQ(u.appended[0], (std::pair<RequestId, TokenId>{2, 20}));
  expect_ok(s);
}

// Random arrivals, aborts and external finishes on a tight pool with chunking: invariants hold
// after every step, every survivor generates exactly what it generates alone in a roomy pool, and
// in the end every block is back in the pool.
// Also with decodes deferred for waiting prompts (max_decode_deferral 3).
void random_traffic_matches_isolated_runs(int max_decode_deferral) {
  std::mt19937 rng(99);
  struct Req { RequestId id; std::vector<TokenId> prompt; int max_tokens; };
  std::vector<Req> reqs;
  const auto shared = make_tokens(8, 700);
  for (RequestId id = 1; id <= 40; ++id) {
    auto prompt = rng() % 2 ? shared : std::vector<TokenId>{};
    const int own = 1 + int(rng() % 10);
    for (int i = 0; i < own; ++i) prompt.push_back(TokenId(3 + rng() % 50));
    reqs.push_back({id, prompt, 1 + int(rng() % 12)});
  }
  auto pool = make_pool(10);
  auto config = make_config(/*max_batched_tokens=*/7, /*max_running=*/4);
  config.max_decode_deferral = max_decode_deferral;
  Scheduler s(config, pool);
  FakeModel model(10, 4);
  std::map<RequestId, std::vector<TokenId>> got;
  std::set<RequestId> cut;  // aborted or finished from outside
  std::size_t next = 0;
  for (int step = 0; step < 3000 && (next < reqs.size() || s.num_running() + s.num_waiting() > 0); ++step) {
    while (next < reqs.size() && rng() % 3 == 0) {
      s.add(reqs[next].id, reqs[next].prompt, reqs[next].max_tokens, true);
      ++next;
    }
    if (rng() % 10 == 0 && next > 0) {
      const RequestId victim = reqs[rng() % next].id;
      if (rng() % 2 ? s.abort(victim) : s.finish(victim)) cut.insert(victim);
    }
    const auto st = run_step(s, model);
    for (const auto& [id, t] : st.update.appended) got[id].push_back(t);
    const Status ok = s.check_invariants();
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }
  ASSERT_EQ(next, reqs.size());
  EXPECT_EQ(s.num_running() + s.num_waiting(), 0);
  EXPECT_EQ(pool.stats().num_used, 0);
  EXPECT_EQ(model.num_unwritten_reads(), 0);
  EXPECT_GT(s.num_preemptions(), 0u);
  for (const Req& r : reqs) {
    if (cut.count(r.id)) continue;
    auto roomy_pool = make_pool(64);
    Scheduler alone(make_config(), roomy_pool);
    FakeModel m(64, 4);
    alone.add(r.id, r.prompt, r.max_tokens, true);
    EXPECT_EQ(got[r.id], run_to_completion(alone, m).at(r.id)) << "request " << r.id;
  }
}

TEST(SchedulerTest, PropertyRandomTrafficMatchesIsolatedRuns) { random_traffic_matches_isolated_runs(0); }
TEST(SchedulerTest, PropertyRandomTrafficWithDeferralMatchesIsolatedRuns) { random_traffic_matches_isolated_runs(3); }

}  // namespace
}  // namespace ladle::scheduler
