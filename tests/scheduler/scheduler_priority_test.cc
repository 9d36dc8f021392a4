// Scheduler with request classes and priorities: interactive before batch, then vLLM's `priority`
// (lower first), then arrival; batch sequences preempted first and never preempting interactive
// ones; output unchanged by preemption; the ITL-target budget; the batch floor; the batch step
// share.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <utility>

#include "scheduler/scheduler.h"
#include "tests/testing/builders.h"

namespace ladle::scheduler {
namespace {

using ladle::testing::FakeModel;
using ladle::testing::make_config;
using ladle::testing::make_pool;
using ladle::testing::make_tokens;
using ladle::testing::run_step;
using ladle::testing::run_to_completion;
using Ids = std::vector<RequestId>;
constexpr auto kBatch = RequestClass::kBatch;
constexpr auto kInteractive = RequestClass::kInteractive;

// The batch step share is off here (the tests of the other rules); its own tests set it.
SchedulerConfig config(int max_batched_tokens, int max_running, double floor_share = 0) {
  SchedulerConfig c = make_config(max_batched_tokens, max_running);
  c.batch_floor_share = floor_share;
  c.batch_step_share = -1;
  return c;
}

void add(Scheduler& s, RequestId id, RequestClass cls, int priority = 0, int prompt_len = 4, int max_tokens = 8) {
  s.add(id, make_tokens(prompt_len, TokenId(100 * id)), max_tokens, true, false, cls, priority);
}

// The order in which requests were first scheduled.
Ids admission_order(Scheduler& s, FakeModel& model, int max_steps = 1000) {
  Ids order;
  for (int i = 0; i < max_steps && s.num_running() + s.num_waiting() > 0; ++i) {
    const auto step = run_step(s, model);
    for (const auto& q : step.out.seqs)
      if (std::find(order.begin(), order.end(), q.id) == order.end()) order.push_back(q.id);
    EXPECT_TRUE(s.check_invariants().ok());
  }
  return order;
}

TEST(SchedulerPriorityTest, InteractiveIsAdmittedBeforeBatchWhateverTheArrival) {
  auto pool = make_pool(64);
  Scheduler s(config(64, 2), pool);
  FakeModel model(64, 4);
  add(s, 1, kBatch);
  add(s, 2, kBatch);
  add(s, 3, kInteractive);
  add(s, 4, kInteractive);
  EXPECT_EQ(s.waiting_ids(), (Ids{3, 4, 1, 2}));
  run_step(s, model);
  EXPECT_EQ(s.running_ids(), (Ids{3, 4}));
  EXPECT_EQ(s.num_batch_waiting(), 2);
  EXPECT_EQ(admission_order(s, model), (Ids{3, 4, 1, 2}));
}

TEST(SchedulerPriorityTest, LowerPriorityFirstWithinAClassTiesInArrivalOrder) {
  auto pool = make_pool(64);
  Scheduler s(config(64, 1), pool);
  FakeModel model(64, 4);
  add(s, 1, kInteractive, 5);
  add(s, 2, kInteractive, -1);
  add(s, 3, kInteractive, 5);
  add(s, 4, kInteractive, 0);
  add(s, 5, kBatch, -10);  // a batch request's priority only orders it among batch ones
  add(s, 6, kBatch, -20);
  EXPECT_EQ(s.waiting_ids(), (Ids{2, 4, 1, 3, 6, 5}));
  EXPECT_EQ(admission_order(s, model), (Ids{2, 4, 1, 3, 6, 5}));
}

// A waiting request never preempts a running one of its own class (vLLM's priority policy): a
// more urgent arrival waits for a slot rather than throwing away another stream's work.
TEST(SchedulerPriorityTest, AWaitingInteractiveRequestNeverPreemptsARunningOne) {
  auto pool = make_pool(64);
  Scheduler s(config(64, 1), pool);
  FakeModel model(64, 4);
  add(s, 1, kInteractive, 10);
  run_step(s, model);
  add(s, 2, kInteractive, -10);
  const auto step = run_step(s, model);
  EXPECT_TRUE(step.out.preempted.empty());
  EXPECT_EQ(s.running_ids(), (Ids{1}));
  EXPECT_EQ(s.waiting_ids(), (Ids{2}));
}

// Three 4-token prompts, each growing a block every 4 tokens, in a pool of 6 blocks: the
// interactive one's growth takes KV from the batch ones, the latest batch arrival first.
TEST(SchedulerPriorityTest, KvShortInteractiveGrowthPreemptsBatchFirstLatestArrivalFirst) {
  auto pool = make_pool(6);
  Scheduler s(config(64, 8), pool);
  FakeModel model(6, 4);
  add(s, 1, kBatch, 0, 4, 16);
  add(s, 2, kBatch, 0, 4, 16);
  add(s, 3, kInteractive, 0, 4, 16);
  Ids preempted;
  bool interactive_preempted = false;
  for (int i = 0; i < 200 && s.num_running() + s.num_waiting() > 0; ++i) {
    const auto step = run_step(s, model);
    for (RequestId id : step.out.preempted) {
      preempted.push_back(id);
      interactive_preempted |= id == 3;
    }
    ASSERT_TRUE(s.check_invariants().ok());
  }
  ASSERT_GE(preempted.size(), 2u);
  EXPECT_EQ(preempted[0], 2u);
  EXPECT_EQ(preempted[1], 1u);
  EXPECT_FALSE(interactive_preempted);
  EXPECT_EQ(s.num_running() + s.num_waiting(), 0);
}

// Batch request 2 arrived first and holds less KV; when it needs a block and only the interactive
// request holds any, it preempts itself: a batch sequence never preempts an interactive one.
TEST(SchedulerPriorityTest, ABatchSequenceNeverPreemptsAnInteractiveOne) {
  auto pool = make_pool(3);  // 12 tokens of KV
  Scheduler s(config(64, 8), pool);
  FakeModel model(3, 4);
  add(s, 2, kBatch, 0, 3, 8);
  add(s, 1, kInteractive, 0, 4, 7);
  run_step(s, model);  // 1: block 0; 2: block 1
  EXPECT_EQ(s.running_ids(), (Ids{1, 2}));
  run_step(s, model);  // 1 takes the last block for position 4
  const auto step = run_step(s, model);  // 2 needs a block for position 4
  EXPECT_EQ(step.out.preempted, (Ids{2}));
  EXPECT_EQ(s.running_ids(), (Ids{1}));
  EXPECT_EQ(s.waiting_ids(), (Ids{2}));
}

// An interactive admission short of a slot preempts a running batch sequence (without a floor, or
// beyond the floor's one).
TEST(SchedulerPriorityTest, InteractiveAdmissionPreemptsBatchForASlot) {
  auto pool = make_pool(64);
  Scheduler s(config(64, 2), pool);
  FakeModel model(64, 4);
  add(s, 1, kBatch);
  add(s, 2, kBatch);
  run_step(s, model);
  EXPECT_EQ(s.running_ids(), (Ids{1, 2}));
  add(s, 3, kInteractive);
  const auto step = run_step(s, model);
  EXPECT_EQ(step.out.preempted, (Ids{2}));
  EXPECT_EQ(s.running_ids(), (Ids{3, 1}));
  add(s, 4, kInteractive);
  EXPECT_EQ(run_step(s, model).out.preempted, (Ids{1}));
  EXPECT_EQ(s.running_ids(), (Ids{3, 4}));
  EXPECT_EQ(s.waiting_ids(), (Ids{1, 2}));
}

// Batch requests preempted mid-decode, again and again, by interactive arrivals generate exactly
// the tokens they generate undisturbed (the fake model hashes the whole context read back through
// the block tables).
TEST(SchedulerPriorityTest, BatchPreemptedMidDecodeGeneratesTheSameTokens) {
  auto batch_work = [](Scheduler& s) {
    for (RequestId id = 1; id <= 4; ++id) add(s, id, kBatch, 0, 5 + int(id), 30);
  };
  auto roomy_pool = make_pool(64);
  Scheduler roomy(config(16, 8), roomy_pool);
  FakeModel m1(64, 4);
  batch_work(roomy);
  const auto expected = run_to_completion(roomy, m1);
  ASSERT_EQ(roomy.num_preemptions(), 0u);

  auto pool = make_pool(24);
  Scheduler s(config(16, 8), pool);
  FakeModel m2(24, 4);
  batch_work(s);
  std::map<RequestId, std::vector<TokenId>> got;
  int batch_preempted_mid_decode = 0;
  for (int i = 0; i < 3000 && s.num_running() + s.num_waiting() > 0; ++i) {
    if (i % 6 == 3 && i < 200) add(s, RequestId(100 + i), kInteractive, 0, 12, 10);
    const auto step = run_step(s, m2);
    for (RequestId id : step.out.preempted) {
      ASSERT_LT(id, 100u) << "an interactive request was preempted";
      batch_preempted_mid_decode += got[id].size() > 0;
    }
    for (const auto& [id, t] : step.update.appended)
      if (id < 100) got[id].push_back(t);
    ASSERT_TRUE(s.check_invariants().ok());
  }
  EXPECT_GT(batch_preempted_mid_decode, 0);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(m2.num_unwritten_reads(), 0);
}

// A linear cost: 1.5 ms a step plus 0.25 ms a token, so 34 tokens fit in 10.1 ms (one sampled row
// a step: the model has no row cost).
void teach_linear_cost(Scheduler& s) {
  for (int tokens : {1, 9, 33, 64, 2, 17})
    s.cost_model().observe(tokens, 1, 0.0015 + 0.00025 * tokens);
}

TEST(SchedulerPriorityTest, ItlTargetSizesStepsThatHoldInteractiveDecodes) {
  auto pool = make_pool(128);
  SchedulerConfig c = config(64, 8);
  c.itl_target_s = 0.0101;
  Scheduler s(c, pool);
  FakeModel model(128, 4);
  add(s, 1, kInteractive, 0, 4, 50);
  EXPECT_EQ(s.step_budget(), 64);  // the fit is not ready: the configured budget
  teach_linear_cost(s);
  EXPECT_EQ(s.step_budget(), 64);  // no stream has a token yet: a prompt step runs whole
  run_step(s, model);              // seq 1's prompt and first token
  EXPECT_EQ(s.step_budget(), 34);
  add(s, 2, kInteractive, 0, 200, 10);  // a long prompt arrives beside the stream
  auto step = run_step(s, model);
  EXPECT_EQ(step.out.num_batched_tokens, 34);  // 1 decode + a 33-token chunk, not 64
  EXPECT_EQ(step.out.num_decode_tokens, 1);
  // The cost doubles (a busier machine): the budget follows the measurements.
  for (int i = 0; i < 200; ++i)
    for (int tokens : {1, 16, 34}) s.cost_model().observe(tokens, 1, 2 * (0.0015 + 0.00025 * tokens));
  EXPECT_EQ(s.step_budget(), 14);  // (10.1 - 3) / 0.5
}

// Interactive prompts alone run whole steps; batch work is held to the target too, so that an
// interactive arrival never waits behind a long batch step.
TEST(SchedulerPriorityTest, ItlTargetCapsBatchStepsButNotInteractivePromptSteps) {
  auto pool = make_pool(128);
  SchedulerConfig c = config(64, 8);
  c.itl_target_s = 0.0101;
  Scheduler s(c, pool);
  FakeModel model(128, 4);
  teach_linear_cost(s);
  add(s, 1, kInteractive, 0, 100, 1);
  EXPECT_EQ(run_step(s, model).out.num_batched_tokens, 64);
  run_to_completion(s, model);
  add(s, 2, kBatch, 0, 200, 10);
  EXPECT_EQ(s.step_budget(), 34);
  EXPECT_EQ(run_step(s, model).out.num_batched_tokens, 34);
}

// Every slot runs batch work and the target leaves only a token per stream: a new interactive
// prompt still goes through, ahead of the streams' decodes (deferral counts the slots it can take
// from batch sequences), instead of waiting for a stream to end.
TEST(SchedulerPriorityTest, ItlTargetStillAdmitsInteractivePromptsWhenBatchHoldsTheSlots) {
  auto pool = make_pool(256);
  SchedulerConfig c = config(64, 8, 1.0 / 16);
  c.itl_target_s = 0.001;  // below the fixed cost: a token per stream, one to spare, one of floor
  c.max_decode_deferral = 16;
  Scheduler s(c, pool);
  FakeModel model(256, 4);
  for (RequestId id = 1; id <= 2; ++id) add(s, id, kInteractive, 0, 4, 200);
  for (RequestId id = 10; id <= 15; ++id) add(s, id, kBatch, 0, 4, 200);
  run_step(s, model);  // the fit is not ready: a whole step admits all eight
  ASSERT_EQ(s.num_running(), 8);
  teach_linear_cost(s);
  ASSERT_EQ(s.step_budget(), 4);  // a token per stream, one to spare, one of floor
  add(s, 3, kInteractive, 0, 8, 10);
  int steps = 0;
  while (s.find(3)->num_generated_tokens() == 0 && steps < 50) {
    run_step(s, model);
    ++steps;
  }
  EXPECT_LE(steps, 2);  // a block's chunk a step beside the decodes (budget 2 + 4 + 1), and
                        // not after the streams' 200 tokens
}

TEST(SchedulerPriorityTest, ItlTargetNeverStarvesTheStreamsThemselves) {
  auto pool = make_pool(128);
  SchedulerConfig c = config(64, 16);
  c.itl_target_s = 0.001;  // below the fixed cost: no step can meet it
  Scheduler s(c, pool);
  FakeModel model(128, 4);
  teach_linear_cost(s);
  for (RequestId id = 1; id <= 10; ++id) add(s, id, kInteractive, 0, 4, 50);
  run_step(s, model);
  EXPECT_EQ(s.step_budget(), 11);  // one token per stream, plus one (no batch work: no floor)
  EXPECT_EQ(run_step(s, model).out.num_decode_tokens, 10);
}

// Sustained interactive load: every slot but one always has a long interactive prompt to run and
// more wait. The floor keeps one slot and a share of each step's tokens for the batch request,
// which then finishes; without a floor it never gets a token.
// With `max_decode_deferral`, the floor may yield that many steps in a row: `longest_gap` is the
// most steps in a row the batch request got no token.
int batch_tokens_under_interactive_load(double floor_share, int* min_batch_tokens_per_step, int max_decode_deferral = 0,
                                        int* longest_gap = nullptr) {
  auto pool = make_pool(256);
  SchedulerConfig c = config(32, 4, floor_share);
  c.max_decode_deferral = max_decode_deferral;
  Scheduler s(c, pool);
  FakeModel model(256, 4);
  RequestId next = 100;
  for (int i = 0; i < 6; ++i) add(s, next++, kInteractive, 0, 60, 4);
  add(s, 1, kBatch, 0, 20, 12);
  int generated = 0, gap = 0;
  *min_batch_tokens_per_step = 1 << 30;
  if (longest_gap != nullptr) *longest_gap = 0;
  for (int i = 0; i < 300; ++i) {
    while (s.num_waiting() - s.num_batch_waiting() < 4) add(s, next++, kInteractive, 0, 60, 4);
    const auto step = run_step(s, model);
    int batch_tokens = 0;
    for (const auto& q : step.out.seqs)
      if (q.id == 1) batch_tokens = q.num_new_tokens;
    if (s.find(1) != nullptr || batch_tokens > 0) *min_batch_tokens_per_step = std::min(*min_batch_tokens_per_step, batch_tokens);
    gap = batch_tokens > 0 ? 0 : gap + 1;
    if (longest_gap != nullptr && s.find(1) != nullptr) *longest_gap = std::max(*longest_gap, gap);
    for (const auto& [id, t] : step.update.appended) generated += id == 1;
    EXPECT_TRUE(s.check_invariants().ok());
  }
  return generated;
}

TEST(SchedulerPriorityTest, BatchFloorKeepsBatchWorkMovingUnderSustainedInteractiveLoad) {
  int min_tokens = 0;
  EXPECT_EQ(batch_tokens_under_interactive_load(1.0 / 16, &min_tokens), 12);
  EXPECT_GE(min_tokens, 1);  // it moved in every step while it was there
  EXPECT_EQ(batch_tokens_under_interactive_load(0, &min_tokens), 0);
}

// The floor yields to interactive prompts that need the whole step, but at most
// max_decode_deferral steps in a row: under the same sustained load the batch request still
// finishes, and never waits more than 4 steps in a row for a token.
TEST(SchedulerPriorityTest, BatchFloorYieldsAtMostMaxDecodeDeferralStepsInARow) {
  int min_tokens = 0, longest_gap = 0;
  EXPECT_EQ(batch_tokens_under_interactive_load(1.0 / 16, &min_tokens, 4, &longest_gap), 12);
  EXPECT_EQ(min_tokens, 0);  // it yielded
  EXPECT_EQ(longest_gap, 4);
}

// A burst of interactive prompts that needs whole steps (8 × 32 tokens in 128-token steps: the
// 110M shape's bench) beside running batch decodes. The floor (8 tokens) yields to the burst, so
// all 8 prompts get their first token in 2 steps, not 3 (with the floor taken from them, 120 + 120
// + 16 tokens); then the batch runs again.
TEST(SchedulerPriorityTest, BatchFloorYieldsToAnInteractiveBurst) {
  auto pool = make_pool(2048);
  SchedulerConfig c = config(128, 64, 1.0 / 16);
  c.max_decode_deferral = 16;
  Scheduler s(c, pool);
  FakeModel model(2048, 4);
  for (int i = 0; i < 20; ++i) add(s, RequestId(100 + i), kBatch, 0, 4, 200);
  run_step(s, model);  // the batch prompts
  ASSERT_EQ(run_step(s, model).out.num_decode_tokens, 20);
  for (int i = 0; i < 8; ++i) add(s, RequestId(1 + i), kInteractive, 0, 32, 50);
  int steps = 0, batch_tokens = 0;
  auto first_tokens = [&] {
    int n = 0;
    for (RequestId id = 1; id <= 8; ++id) n += s.find(id)->num_generated_tokens() > 0;
    return n;
  };
  while (first_tokens() < 8 && steps < 10) {
    const auto step = run_step(s, model);
    ASSERT_TRUE(s.check_invariants().ok());
    for (const auto& q : step.out.seqs) batch_tokens += q.id >= 100 ? q.num_new_tokens : 0;
    ++steps;
  }
  EXPECT_EQ(steps, 2);
  EXPECT_EQ(batch_tokens, 0);
  const auto next = run_step(s, model);
  int batch_after = 0;
  for (const auto& q : next.out.seqs) batch_after += q.id >= 100 ? q.num_new_tokens : 0;
  EXPECT_EQ(batch_after, 20);  // the share is off here: every batch decode, beside 8 streams
}

TEST(SchedulerPriorityTest, BatchFloorSlotIsNeverTakenByInteractiveAdmission) {
  auto pool = make_pool(64);
  Scheduler s(config(64, 2, 1.0 / 16), pool);
  FakeModel model(64, 4);
  add(s, 1, kBatch, 0, 4, 30);
  add(s, 2, kBatch, 0, 4, 30);
  add(s, 3, kInteractive, 0, 4, 30);
  add(s, 4, kInteractive, 0, 4, 30);
  auto step = run_step(s, model);
  EXPECT_EQ(s.running_ids(), (Ids{3, 1}));  // the floor's slot went to the best batch request
  EXPECT_EQ(s.waiting_ids(), (Ids{4, 2}));
  step = run_step(s, model);
  EXPECT_TRUE(step.out.preempted.empty());  // interactive 4 waits rather than preempt the floor
  EXPECT_EQ(s.running_ids(), (Ids{3, 1}));
}

// --- The batch step share: batch tokens beside interactive ones, by the learned step cost ---

// Interactive ids below 1000, batch ids from 1000.
constexpr RequestId kFirstBatch = 1000;

struct ClassTokens {
  int interactive = 0, batch = 0;
};

ClassTokens class_tokens(const ScheduleOutput& out) {
  ClassTokens t;
  for (const auto& q : out.seqs) (q.id >= kFirstBatch ? t.batch : t.interactive) += q.num_new_tokens;
  return t;
}

SchedulerConfig share_config(double share, double floor_share, double itl_target_s = 0) {
  SchedulerConfig c = config(256, 64, floor_share);
  c.batch_step_share = share;
  c.itl_target_s = itl_target_s;
  return c;
}

// `streams` interactive requests and `batch_lines` batch ones, 4-token prompts, 200 tokens each.
void add_share_load(Scheduler& s, int streams, int batch_lines) {
  for (int i = 0; i < streams; ++i) add(s, RequestId(1 + i), kInteractive, 0, 4, 200);
  for (int i = 0; i < batch_lines; ++i) add(s, kFirstBatch + RequestId(i), kBatch, 0, 4, 200);
}

// The linear cost of teach_linear_cost (fixed / per_token = 6 tokens): with 9 streams decoding, a
// step of 9 interactive tokens may add at most F × (6 + 9) batch tokens: 7 at F = 0.5, 3 at 0.25.
TEST(SchedulerPriorityTest, BatchStepShareHoldsBatchTokensBesideInteractiveDecodes) {
  for (const auto& [share, cap] : {std::pair{0.5, 7}, std::pair{0.25, 3}}) {
    auto pool = make_pool(2048);
    Scheduler s(share_config(share, 0), pool);
    add_share_load(s, 9, 40);
    FakeModel model(2048, 4);
    teach_linear_cost(s);
    const ClassTokens first = class_tokens(run_step(s, model).out);
    EXPECT_EQ(first.interactive, 36);                  // the streams' prompts
    EXPECT_NEAR(first.batch, share * (6 + 36), 1.0);  // beside them, F × (6 + 36)
    for (int i = 0; i < 30; ++i) {
      const ClassTokens t = class_tokens(run_step(s, model).out);
      ASSERT_TRUE(s.check_invariants().ok());
      EXPECT_EQ(t.interactive, 9) << "step " << i;
      EXPECT_EQ(t.batch, cap) << "share " << share << ", step " << i;  // 40 batch lines want more
    }
  }
}

// A cost with a sampled-row term: 1.5 ms a step, 0.1 ms a token, 0.3 ms more a sampled row (a
// decode costs 0.4 ms, a 4-token prompt 0.7 ms).
void teach_row_cost(Scheduler& s) {
  for (const auto& [tokens, rows] : {std::pair{1, 1}, {9, 9}, {33, 1}, {64, 2}, {2, 2}, {17, 9}, {40, 8}, {12, 12}})
    s.cost_model().observe(tokens, rows, 0.0015 + 0.0001 * tokens + 0.0003 * rows);
}

// Batch decodes cost their rows: beside 9 decoding streams (1.5 + 0.9 + 2.7 = 5.1 ms) F = 0.25
// allows 1.275 ms of batch work, 3 decodes (1.2 ms), not the 12 tokens a per-token count gives.
TEST(SchedulerPriorityTest, BatchStepShareCostsBatchDecodesByTheirRows) {
  auto pool = make_pool(2048);
  Scheduler s(share_config(0.25, 0), pool);
  add_share_load(s, 9, 40);
  FakeModel model(2048, 4);
  teach_row_cost(s);
  // The streams' prompts (36 tokens, 9 rows: 7.8 ms) allow 1.95 ms: two 4-token prompts whole
  // (0.7 ms each) and 3 tokens of a third (no row).
  const ClassTokens first = class_tokens(run_step(s, model).out);
  EXPECT_EQ(first.interactive, 36);
  EXPECT_EQ(first.batch, 11);
  for (int i = 0; i < 30; ++i) {
    const auto step = run_step(s, model);
    const ClassTokens t = class_tokens(step.out);
    ASSERT_TRUE(s.check_invariants().ok());
    EXPECT_EQ(t.interactive, 9) << "step " << i;
    EXPECT_EQ(t.batch, 3) << "step " << i;  // two decodes and the third prompt's last token, then three decodes
    const double alone = *s.cost_model().predict(9, 9);
    EXPECT_LE(*s.cost_model().predict(step.out.num_batched_tokens, step.out.num_sampled_rows), 1.25 * alone + 1e-12);
  }
}

// The ITL target counts the streams' sampled rows: 9 decoding streams leave (10.15 - 1.5 - 2.7) /
// 0.1 = 59 tokens in 10.15 ms, not the 86 a step without rows would take.
TEST(SchedulerPriorityTest, ItlTargetCountsTheStreamsSampledRows) {
  auto pool = make_pool(2048);
  Scheduler s(share_config(-1, 0, 0.01015), pool);
  add_share_load(s, 9, 0);
  FakeModel model(2048, 4);
  teach_row_cost(s);
  EXPECT_LT(s.cost_model().scatter_seconds(), 1e-12);
  run_step(s, model);  // the prompts
  EXPECT_EQ(s.step_budget(), 59);
}

TEST(SchedulerPriorityTest, BatchGetsWholeStepsWhenNoInteractiveRequestRunsOrWaits) {
  auto pool = make_pool(2048);
  Scheduler s(share_config(0.45, 0), pool);
  add_share_load(s, 0, 40);
  FakeModel model(2048, 4);
  teach_linear_cost(s);
  EXPECT_EQ(class_tokens(run_step(s, model).out).batch, 160);  // every 4-token prompt
  EXPECT_EQ(class_tokens(run_step(s, model).out).batch, 40);   // every decode
  add(s, 1, kInteractive, 0, 4, 3);
  EXPECT_EQ(class_tokens(run_step(s, model).out).batch, 4);  // 0.45 × (6 + 4 prompt tokens)
  EXPECT_EQ(class_tokens(run_step(s, model).out).batch, 3);  // 0.45 × (6 + 1 decode)
  EXPECT_EQ(class_tokens(run_step(s, model).out).batch, 3);
  ASSERT_EQ(s.find(1), nullptr);  // its 3 tokens are done
  EXPECT_EQ(class_tokens(run_step(s, model).out).batch, 40);
}

// F = 0: beside interactive work the batch gets exactly the floor (256 / 16 = 16 tokens), and
// nothing without one; the floor also holds while the cost model is not fitted yet.
TEST(SchedulerPriorityTest, BatchStepShareKeepsTheFloor) {
  for (const auto& [floor_share, floor] : {std::pair{1.0 / 16, 16}, std::pair{0.0, 0}}) {
    auto pool = make_pool(2048);
    Scheduler s(share_config(0, floor_share), pool);
    add_share_load(s, 9, 40);
    FakeModel model(2048, 4);
    teach_linear_cost(s);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(class_tokens(run_step(s, model).out).batch, floor) << floor_share;
  }
  auto pool = make_pool(2048);
  Scheduler s(share_config(10, 1.0 / 16), pool);  // a huge share, but no fit yet
  add_share_load(s, 9, 40);
  FakeModel model(2048, 4);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(class_tokens(run_step(s, model).out).batch, 16);
}

// Both limits apply, the smaller wins: the ITL target's 34-token step leaves 25 tokens beside 9
// streams; a share of 10 would allow 150, a share of 0.5 allows 7.
TEST(SchedulerPriorityTest, BatchStepShareAndItlTargetTakeTheSmaller) {
  for (const auto& [share, batch] : {std::pair{10.0, 25}, std::pair{0.5, 7}}) {
    auto pool = make_pool(2048);
    Scheduler s(share_config(share, 0, 0.0101), pool);
    add_share_load(s, 9, 40);
    FakeModel model(2048, 4);
    teach_linear_cost(s);
    for (int i = 0; i < 5; ++i) run_step(s, model);
    const ClassTokens t = class_tokens(run_step(s, model).out);
    EXPECT_EQ(t.interactive, 9);
    EXPECT_EQ(t.batch, batch) << share;
  }
}

}  // namespace
}  // namespace ladle::scheduler
