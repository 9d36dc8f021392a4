#include "scheduler/batch_builder.h"

#include <gtest/gtest.h>

#include "tests/testing/builders.h"

namespace ladle::scheduler {
namespace {

using ladle::testing::make_config;
using ladle::testing::make_pool;
using ladle::testing::make_tokens;
using V = std::vector<BlockId>;
using I = std::vector<std::int32_t>;

TEST(BatchBuilderTest, MixesDecodeRowsAndPrefillChunksInScheduleOrder) {
  auto pool = make_pool(16);
  Scheduler s(make_config(/*max_batched_tokens=*/7), pool);
  s.add(1, make_tokens(3, 10), 10, false);
  auto out = s.schedule();
  auto batch = build_forward_batch(out, s);
  EXPECT_EQ(batch.token_ids, (std::vector<TokenId>{10, 11, 12}));
  EXPECT_EQ(batch.positions, (I{0, 1, 2}));
  const std::vector<TokenId> first = {77};
  (void)s.update(out, first);

  s.add(2, make_tokens(9, 200), 10, false);
  out = s.schedule();  // seq 1 decodes token 77 at position 3; seq 2 gets a 6-token chunk
  batch = build_forward_batch(out, s);
  ASSERT_EQ(batch.seqs.size(), 2u);
  EXPECT_EQ(batch.token_ids, (std::vector<TokenId>{77, 200, 201, 202, 203, 204, 205}));
  EXPECT_EQ(batch.positions, (I{3, 0, 1, 2, 3, 4, 5}));
  const auto& a = batch.seqs[0];
  EXPECT_EQ(a.query_start, 0);
  EXPECT_EQ(a.query_len, 1);
  EXPECT_EQ(a.context_len, 4);
  EXPECT_EQ(a.block_table, (V{0}));
  EXPECT_TRUE(a.needs_logits);
  const auto& b = batch.seqs[1];
  EXPECT_EQ(b.query_start, 1);
  EXPECT_EQ(b.query_len, 6);
  EXPECT_EQ(b.context_len, 6);
  EXPECT_EQ(b.block_table, (V{1, 2}));
  EXPECT_FALSE(b.needs_logits);
  EXPECT_EQ(batch.num_tokens(), 7);
  EXPECT_EQ(batch.num_logit_rows(), 1);
  const std::vector<TokenId> second = {78};
  (void)s.update(out, second);

  out = s.schedule();  // seq 1 decodes at 4 (needs block 3), seq 2's last 3 prompt tokens
  batch = build_forward_batch(out, s);
  EXPECT_EQ(batch.positions, (I{4, 6, 7, 8}));
  EXPECT_EQ(batch.seqs[0].block_table, (V{0, 3}));
  EXPECT_EQ(batch.seqs[1].block_table, (V{1, 2, 4}));
  EXPECT_EQ(batch.seqs[1].context_len, 9);
  EXPECT_EQ(batch.num_logit_rows(), 2);
}

TEST(BatchBuilderTest, PrefixHitStartsAtTheFirstUncachedPosition) {
  auto pool = make_pool(16);
  Scheduler s(make_config(), pool);
  ladle::testing::FakeModel model(16, 4);
  s.add(1, make_tokens(9), 1, false);
  ladle::testing::run_to_completion(s, model);
  s.add(2, make_tokens(9), 1, false);
  const auto out = s.schedule();
  const auto batch = build_forward_batch(out, s);
  EXPECT_EQ(batch.positions, (I{8}));
  EXPECT_EQ(batch.token_ids, (std::vector<TokenId>{108}));
  EXPECT_EQ(batch.seqs[0].context_len, 9);
  EXPECT_EQ(batch.seqs[0].block_table.size(), 3u);
  EXPECT_EQ(batch.seqs[0].block_table[0], 0);
  EXPECT_EQ(batch.seqs[0].block_table[1], 1);
}

TEST(BatchBuilderTest, EmptyScheduleGivesAnEmptyBatch) {
  auto pool = make_pool(4);
  Scheduler s(make_config(), pool);
  const auto batch = build_forward_batch(s.schedule(), s);
  EXPECT_EQ(batch.num_tokens(), 0);
  EXPECT_TRUE(batch.seqs.empty());
}

}  // namespace
}  // namespace ladle::scheduler
