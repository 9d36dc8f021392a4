#include "kvcache/free_block_queue.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>

namespace ladle::kvcache {
namespace {

using V = std::vector<BlockId>;

TEST(FreeBlockQueueTest, StartsFullInIdOrder) {
  FreeBlockQueue q(4);
  EXPECT_EQ(q.size(), 4);
  EXPECT_EQ(q.to_vector(), (V{0, 1, 2, 3}));
  EXPECT_EQ(q.front(), 0);
}

TEST(FreeBlockQueueTest, PopPushRemoveKeepOrder) {
  FreeBlockQueue q(5);
  EXPECT_EQ(q.pop_front(), 0);
  EXPECT_EQ(q.pop_front(), 1);
  q.remove(3);  // middle
  EXPECT_EQ(q.to_vector(), (V{2, 4}));
  q.push_back(0);
  q.push_front(3);
  q.push_back(1);
  EXPECT_EQ(q.to_vector(), (V{3, 2, 4, 0, 1}));
  q.remove(3);  // head
  q.remove(1);  // tail
  EXPECT_EQ(q.to_vector(), (V{2, 4, 0}));
  EXPECT_FALSE(q.contains(1));
  EXPECT_TRUE(q.contains(4));
  EXPECT_EQ(q.size(), 3);
}

TEST(FreeBlockQueueTest, EmptiesAndRefills) {
  FreeBlockQueue q(2);
  EXPECT_TRUE(q.pop_front());
  EXPECT_TRUE(q.pop_front());
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop_front(), std::nullopt);
  EXPECT_EQ(q.front(), std::nullopt);
  q.push_back(1);
  EXPECT_EQ(q.to_vector(), (V{1}));
}

TEST(FreeBlockQueueTest, MatchesADequeUnderRandomOperations) {
  constexpr int kBlocks = 32;
  FreeBlockQueue q(kBlocks);
  std::deque<BlockId> model;
  for (BlockId b = 0; b < kBlocks; ++b) model.push_back(b);
  std::mt19937 rng(7);
  for (int step = 0; step < 5000; ++step) {
    const BlockId b = BlockId(rng() % kBlocks);
    const bool queued = std::find(model.begin(), model.end(), b) != model.end();
    ASSERT_EQ(q.contains(b), queued);
    switch (rng() % 4) {
      case 0:
        if (queued) { q.remove(b); model.erase(std::find(model.begin(), model.end(), b)); }
        break;
      case 1:
        if (!queued) { q.push_back(b); model.push_back(b); }
        break;
      case 2:
        if (!queued) { q.push_front(b); model.push_front(b); }
        break;
      default:
        ASSERT_EQ(q.pop_front(), model.empty() ? std::nullopt : std::optional<BlockId>(model.front()));
        if (!model.empty()) model.pop_front();
    }
    ASSERT_EQ(q.to_vector(), V(model.begin(), model.end()));
  }
}

}  // namespace
}  // namespace ladle::kvcache
