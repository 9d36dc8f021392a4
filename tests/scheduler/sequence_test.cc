#include "scheduler/sequence.h"

#include <gtest/gtest.h>

#include "tests/testing/builders.h"

namespace ladle::scheduler {
namespace {

using ladle::testing::make_tokens;

TEST(SequenceTest, StartsWaitingWithOnlyThePrompt) {
  Sequence seq(9, make_tokens(5), 7, true);
  EXPECT_EQ(seq.id(), 9u);
  EXPECT_EQ(seq.status(), SequenceStatus::kWaiting);
  EXPECT_EQ(seq.num_tokens(), 5);
  EXPECT_EQ(seq.num_prompt_tokens(), 5);
  EXPECT_EQ(seq.num_generated_tokens(), 0);
  EXPECT_TRUE(seq.generated_tokens().empty());
  EXPECT_EQ(seq.num_computed_tokens(), 0);
  EXPECT_EQ(seq.last_token(), 104);
  EXPECT_EQ(seq.max_tokens(), 7);
  EXPECT_TRUE(seq.ignore_eos());
  EXPECT_TRUE(seq.block_table().empty());
}

TEST(SequenceTest, AppendsAndCountsGeneratedTokens) {
  Sequence seq(1, make_tokens(3), 4, false);
  seq.start_running(0);
  seq.add_computed_tokens(3);
  seq.append_token(42);
  seq.append_token(43);
  EXPECT_EQ(seq.num_tokens(), 5);
  EXPECT_EQ(seq.num_generated_tokens(), 2);
  ASSERT_EQ(seq.generated_tokens().size(), 2u);
  EXPECT_EQ(seq.generated_tokens()[0], 42);
  EXPECT_EQ(seq.last_token(), 43);
  EXPECT_EQ(seq.num_computed_tokens(), 3);
}

TEST(SequenceTest, CachedTokensCountOnlyPromptTokens) {
  Sequence seq(1, make_tokens(4), 10, false);
  seq.start_running(4 - 4);
  seq.add_computed_tokens(4);
  for (TokenId t : {50, 51, 52, 53, 54}) seq.append_token(t);
  // Preempted and resumed: 8 of its 9 tokens come from the cache, 4 of which are prompt.
  seq.reset_to_waiting();
  EXPECT_EQ(seq.status(), SequenceStatus::kWaiting);
  EXPECT_EQ(seq.num_computed_tokens(), 0);
  seq.start_running(8);
  EXPECT_EQ(seq.status(), SequenceStatus::kRunning);
  EXPECT_EQ(seq.num_computed_tokens(), 8);
  EXPECT_EQ(seq.num_cached_tokens(), 4);
  EXPECT_EQ(seq.num_generated_tokens(), 5);  // generated tokens survive preemption
}

}  // namespace
}  // namespace ladle::scheduler
