// Scheduler::add(..., skip_prefix_cache): a sequence that must compute its whole prompt (prompt
// log-probabilities) reads no cached block, is not counted as a prefix-cache query, and still
// leaves its full blocks cached for the next request; and so again after a preemption.
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include "tests/testing/builders.h"

namespace ladle::scheduler {
namespace {

using ladle::testing::FakeModel;
using ladle::testing::make_config;
using ladle::testing::make_pool;
using ladle::testing::make_tokens;
using ladle::testing::run_step;
using ladle::testing::run_to_completion;

TEST(SchedulerSkipPrefixCache, ComputesTheWholePromptAndStillCaches) {
  auto pool = make_pool(16);
  Scheduler s(make_config(), pool);
  FakeModel model(16, 4);
  const auto prompt = make_tokens(12);
  s.add(1, prompt, 2, false);
  run_to_completion(s, model);
  const auto queried = pool.stats().queried_tokens;

  // Three full blocks of this prompt are cached; request 2 reads none of them.
  s.add(2, prompt, 2, false, /*skip_prefix_cache=*/true);
  auto step = run_step(s, model);
  ASSERT_EQ(step.out.seqs.size(), 1u);
  EXPECT_EQ(step.out.seqs[0].num_new_tokens, 12);
  EXPECT_EQ(step.out.seqs[0].num_computed_before, 0);
  EXPECT_EQ(s.find(2)->num_cached_tokens(), 0);
  EXPECT_EQ(pool.stats().queried_tokens, queried);
  EXPECT_EQ(pool.stats().hit_tokens, 0u);
  run_to_completion(s, model);

  // An ordinary request after it is served from the cache (8 tokens: the last must be computed).
  s.add(3, prompt, 1, false);
  step = run_step(s, model);
  EXPECT_EQ(step.out.seqs[0].num_computed_before, 8);
  EXPECT_EQ(pool.stats().hit_tokens, 8u);
  EXPECT_EQ(model.num_unwritten_reads(), 0);
  EXPECT_TRUE(s.check_invariants().ok());
}

// Preempted and readmitted, the sequence recomputes its prompt from position 0 again.
TEST(SchedulerSkipPrefixCache, AlsoAfterPreemption) {
  auto pool = make_pool(7);  // 28 token slots
  Scheduler s(make_config(/*max_batched_tokens=*/64, /*max_running=*/2), pool);
  FakeModel model(7, 4);
  s.add(1, make_tokens(8), 6, false);
  s.add(2, make_tokens(8, 500), 20, false, /*skip_prefix_cache=*/true);
  bool preempted = false;  // request 2 was preempted and not yet scheduled again
  int readmissions = 0;
  for (int i = 0; i < 40 && s.num_running() + s.num_waiting() > 0; ++i) {
    auto step = run_step(s, model);
    for (const auto& q : step.out.seqs) {
      if (q.id != 2 || !preempted) continue;
      EXPECT_EQ(q.num_computed_before, 0);  // its own cached blocks were there to be read
      preempted = false;
      ++readmissions;
    }
    for (RequestId id : step.out.preempted) preempted = preempted || id == 2;
  }
  EXPECT_EQ(readmissions, 1);
  EXPECT_TRUE(s.check_invariants().ok());
}

}  // namespace
}  // namespace ladle::scheduler
