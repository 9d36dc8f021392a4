#include "kvcache/block_pool.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/testing/builders.h"

namespace ladle::kvcache {
namespace {

using ladle::testing::concat;
using ladle::testing::make_pool;
using ladle::testing::make_tokens;
using V = std::vector<BlockId>;

// Allocates enough blocks for `tokens` (after the cached prefix), marks every full block
// computed and cached, and returns the table, as the scheduler does for one finished prefill.
BlockTable admit(BlockPool& pool, std::span<const TokenId> tokens) {
  const int bs = pool.block_size();
  BlockTable table = pool.find_cached_prefix(tokens.first(tokens.size() - 1));
  const int needed = (int(tokens.size()) + bs - 1) / bs - int(table.size());
  EXPECT_TRUE(pool.can_allocate(table, needed));
  pool.touch(table);
  auto fresh = pool.allocate(needed);
  EXPECT_TRUE(fresh.has_value());
  table.insert(table.end(), fresh->begin(), fresh->end());
  pool.cache_full_blocks(tokens, table, int(tokens.size()) / bs);
  EXPECT_TRUE(pool.check_invariants().ok());
  return table;
}

TEST(BlockPoolTest, AllocateIsAllOrNothing) {
  auto pool = make_pool(4);
  auto a = pool.allocate(3);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (V{0, 1, 2}));
  EXPECT_EQ(pool.allocate(2), std::nullopt);
  EXPECT_EQ(pool.num_free_blocks(), 1);
  EXPECT_EQ(pool.stats().num_used, 3);
  EXPECT_TRUE(pool.check_invariants().ok());
  EXPECT_EQ(pool.allocate(1), (std::optional<V>(V{3})));
  EXPECT_EQ(pool.allocate(0), (std::optional<V>(V{})));
}

TEST(BlockPoolTest, ExactHitAndMissBehaviour) {
  auto pool = make_pool(8);
  const auto prompt = make_tokens(10);  // blocks [100..103] [104..107] + partial [108,109]
  BlockTable a = admit(pool, prompt);
  EXPECT_EQ(a, (V{0, 1, 2}));
  EXPECT_TRUE(pool.cached_hash(0) && pool.cached_hash(1));
  EXPECT_FALSE(pool.cached_hash(2));  // partial block is never hashed

  // Same first 8 tokens: both full blocks hit.
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(9)), (V{0, 1}));
  // Differs inside block 1: only block 0 hits.
  auto other = make_tokens(9);
  other[6] = 7;
  EXPECT_EQ(pool.find_cached_prefix(other), (V{0}));
  // Differs in block 0 but block 1 identical: chained hash means no hit at all.
  auto shifted = make_tokens(9);
  shifted[0] = 5;
  EXPECT_EQ(pool.find_cached_prefix(shifted), V{});
  // Fewer tokens than a block: nothing to hit.
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(3)), V{});
  // Exactly 8 tokens offered: both blocks (the caller decides to keep its last token out).
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(8)), (V{0, 1}));
}

TEST(BlockPoolTest, SharingTakesReferencesAndReleaseInReverseOrder) {
  auto pool = make_pool(8);
  const auto prompt = make_tokens(12);
  BlockTable a = admit(pool, prompt);  // 0 1 2, all full
  EXPECT_EQ(a, (V{0, 1, 2}));
  // The same 12 tokens again: the last token is kept out of the lookup, so blocks 0 and 1 hit
  // and block 2's content is recomputed into block 3 (a duplicate that is not cached again).
  BlockTable b = admit(pool, prompt);
  EXPECT_EQ(b, (V{0, 1, 3}));
  EXPECT_FALSE(pool.cached_hash(3));
  // Two more tokens: all three full blocks hit.
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(13)), (V{0, 1, 2}));
  EXPECT_EQ(pool.ref_count(0), 2);
  EXPECT_EQ(pool.ref_count(3), 1);
  pool.free(a);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(pool.ref_count(0), 1);
  // Block 2 (cached, ref 0) queued at the back behind the never-used blocks.
  EXPECT_EQ(pool.free_queue_order(), (V{4, 5, 6, 7, 2}));
  pool.free(b);
  // Reverse order: uncached tail 3 goes to the front; cached 1 then 0 to the back.
  EXPECT_EQ(pool.free_queue_order(), (V{3, 4, 5, 6, 7, 2, 1, 0}));
  const auto s = pool.stats();
  EXPECT_EQ(s.num_used, 0);
  EXPECT_EQ(s.num_free, 8);
  EXPECT_EQ(s.num_cached_free, 3);
  EXPECT_TRUE(pool.check_invariants().ok());
}

TEST(BlockPoolTest, ReleaseOrderPutsTailsFirstInTheEvictionQueue) {
  auto pool = make_pool(6);
  BlockTable a = admit(pool, make_tokens(13));  // 0 1 2 full, 3 partial
  EXPECT_EQ(a, (V{0, 1, 2, 3}));
  pool.free(a);
  EXPECT_EQ(pool.free_queue_order(), (V{3, 4, 5, 2, 1, 0}));
  // Allocating 4 evicts the partial block, the unused ones, then the tail block 2.
  EXPECT_EQ(pool.allocate(4), (std::optional<V>(V{3, 4, 5, 2})));
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(13)), (V{0, 1}));
}

TEST(BlockPoolTest, TouchingAFreeCachedBlockRemovesItFromTheQueue) {
  auto pool = make_pool(4);
  BlockTable a = admit(pool, make_tokens(8));
  pool.free(a);
  EXPECT_EQ(pool.free_queue_order(), (V{2, 3, 1, 0}));
  const auto hit = pool.find_cached_prefix(make_tokens(8));
  ASSERT_EQ(hit, (V{0, 1}));
  EXPECT_TRUE(pool.can_allocate(hit, 2));
  EXPECT_FALSE(pool.can_allocate(hit, 3));  // touching takes 0 and 1 out of the free queue
  pool.touch(hit);
  EXPECT_EQ(pool.free_queue_order(), (V{2, 3}));
  EXPECT_EQ(pool.stats().num_cached_free, 0);
  EXPECT_TRUE(pool.check_invariants().ok());
}

TEST(BlockPoolTest, LruEvictionDropsTheOldestCachedTailFirst) {
  auto pool = make_pool(4);
  BlockTable a = admit(pool, make_tokens(8, 100));  // blocks 0 1
  BlockTable b = admit(pool, make_tokens(8, 200));  // blocks 2 3
  pool.free(a);
  pool.free(b);
  EXPECT_EQ(pool.free_queue_order(), (V{1, 0, 3, 2}));
  // One new block evicts a's tail (block 1): a's head still hits, its second block does not.
  auto one = pool.allocate(1);
  EXPECT_EQ(one, (std::optional<V>(V{1})));
  EXPECT_FALSE(pool.cached_hash(1));
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(8, 100)), (V{0}));
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(8, 200)), (V{2, 3}));
  auto two = pool.allocate(2);
  EXPECT_EQ(two, (std::optional<V>(V{0, 3})));
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(8, 100)), V{});
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(8, 200)), (V{2}));
  EXPECT_EQ(pool.stats().num_cached_free, 1);
  EXPECT_TRUE(pool.check_invariants().ok());
}

TEST(BlockPoolTest, DuplicateContentKeepsTheFirstCachedCopy) {
  auto pool = make_pool(6);
  const auto prompt = make_tokens(8);
  // Two sequences compute the same blocks before either is cached (admitted in the same step).
  BlockTable a = *pool.allocate(2);
  BlockTable b = *pool.allocate(2);
  pool.cache_full_blocks(prompt, a, 2);
  pool.cache_full_blocks(prompt, b, 2);
  EXPECT_TRUE(pool.cached_hash(0) && pool.cached_hash(1));
  EXPECT_FALSE(pool.cached_hash(2) || pool.cached_hash(3));
  EXPECT_EQ(pool.find_cached_prefix(prompt), (V{0, 1}));
  pool.free(b);  // uncached duplicates go to the front
  EXPECT_EQ(pool.free_queue_order(), (V{2, 3, 4, 5}));
  // b's blocks are reused with other content; a's cache entries are untouched.
  BlockTable c = *pool.allocate(2);
  EXPECT_EQ(c, (V{2, 3}));
  EXPECT_EQ(pool.find_cached_prefix(prompt), (V{0, 1}));
  EXPECT_TRUE(pool.check_invariants().ok());
}

TEST(BlockPoolTest, CacheFullBlocksIsIncremental) {
  auto pool = make_pool(4);
  const auto tokens = make_tokens(12);
  BlockTable t = *pool.allocate(3);
  pool.cache_full_blocks(tokens, t, 1);
  const auto h0 = pool.cached_hash(t[0]);
  pool.cache_full_blocks(tokens, t, 3);  // continues from block 1 with block 0 as parent
  EXPECT_EQ(pool.cached_hash(t[0]), h0);
  const auto hashes = hash_full_blocks(tokens, 4);
  EXPECT_EQ(pool.cached_hash(t[2]), hashes[2]);
  EXPECT_EQ(pool.find_cached_prefix(tokens), t);
}

TEST(BlockPoolTest, PrefixCachingOffNeverHits) {
  auto pool = make_pool(4, 4, /*prefix_caching=*/false);
  BlockTable a = admit(pool, make_tokens(8));
  EXPECT_FALSE(pool.cached_hash(0));
  EXPECT_EQ(pool.find_cached_prefix(make_tokens(8)), V{});
  pool.free(a);
  EXPECT_EQ(pool.stats().num_cached_free, 0);
}

TEST(BlockPoolTest, CountsQueriedAndHitTokens) {
  auto pool = make_pool(4);
  pool.record_prefix_query(10, 8);
  pool.record_prefix_query(5, 0);
  EXPECT_EQ(pool.stats().queried_tokens, 15u);
  EXPECT_EQ(pool.stats().hit_tokens, 8u);
}

// Random admit/share/release/evict: after every operation no block leaks, ref counts stay
// >= 0, used + free == total, and every hit serves exactly the tokens that were cached.
TEST(BlockPoolTest, PropertyRandomOperationsKeepInvariants) {
  constexpr int kBlocks = 24, kBs = 4;
  auto pool = make_pool(kBlocks, kBs);
  std::mt19937 rng(1234);
  struct Live { BlockTable table; std::vector<TokenId> tokens; };
  std::vector<Live> live;
  for (int step = 0; step < 4000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      // New sequence from a few shared prefixes so hits, sharing and eviction all happen.
      std::vector<TokenId> tokens = make_tokens(int(rng() % 4) * kBs, 1000 * TokenId(rng() % 3));
      const int tail = 1 + int(rng() % 9);
      for (int i = 0; i < tail; ++i) tokens.push_back(TokenId(rng() % 5));
      BlockTable cached = pool.find_cached_prefix(std::span(tokens).first(tokens.size() - 1));
      for (std::size_t i = 0; i < cached.size(); ++i) {
        ASSERT_EQ(pool.ref_count(cached[i]) >= 0, true);
      }
      const int needed = int((tokens.size() + kBs - 1) / kBs - cached.size());
      const bool fits = pool.can_allocate(cached, needed);
      const auto before = pool.stats();
      if (!fits) {
        ASSERT_EQ(pool.allocate(needed + int(cached.size()) + before.num_free + 1), std::nullopt);
        ASSERT_EQ(pool.stats().num_free, before.num_free);  // failed allocate changed nothing
        continue;
      }
      pool.touch(cached);
      auto fresh = pool.allocate(needed);
      ASSERT_TRUE(fresh);
      cached.insert(cached.end(), fresh->begin(), fresh->end());
      pool.cache_full_blocks(tokens, cached, int(tokens.size()) / kBs);
      live.push_back({std::move(cached), std::move(tokens)});
    } else {
      const std::size_t i = rng() % live.size();
      pool.free(live[i].table);
      live.erase(live.begin() + std::ptrdiff_t(i));
    }
    const auto st = pool.check_invariants();
    ASSERT_TRUE(st.ok()) << st.error().message;
    const auto s = pool.stats();
    ASSERT_EQ(s.num_used + s.num_free, s.num_total);
    // Ref counts equal the number of live tables holding each block.
    std::vector<int> refs(kBlocks, 0);
    for (const auto& l : live) for (BlockId b : l.table) ++refs[std::size_t(b)];
    for (BlockId b = 0; b < kBlocks; ++b) ASSERT_EQ(pool.ref_count(b), refs[std::size_t(b)]);
    // Every live sequence's full prefix, if found, is found on blocks that hold those tokens.
    for (const auto& l : live) {
      const auto hit = pool.find_cached_prefix(l.tokens);
      for (std::size_t k = 0; k < hit.size(); ++k) ASSERT_TRUE(pool.cached_hash(hit[k]));
    }
  }
  for (auto& l : live) pool.free(l.table);
  EXPECT_EQ(pool.stats().num_used, 0);
  EXPECT_TRUE(pool.check_invariants().ok());
}

}  // namespace
}  // namespace ladle::kvcache
