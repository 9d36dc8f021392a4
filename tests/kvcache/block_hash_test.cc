#include "kvcache/block_hash.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/testing/builders.h"

namespace ladle::kvcache {
namespace {

using ladle::testing::make_tokens;

TEST(BlockHashTest, DeterministicAndSensitiveToEveryInput) {
  const std::vector<TokenId> a = {5, 6, 7, 8};
  EXPECT_EQ(hash_block(std::nullopt, a), hash_block(std::nullopt, a));
  EXPECT_NE(hash_block(std::nullopt, a), hash_block(BlockHash{0}, a));  // root differs from parent 0
  EXPECT_NE(hash_block(BlockHash{1}, a), hash_block(BlockHash{2}, a));
  const std::vector<TokenId> swapped = {6, 5, 7, 8};
  EXPECT_NE(hash_block(std::nullopt, a), hash_block(std::nullopt, swapped));
}

TEST(BlockHashTest, ChainedHashesAgreeOnlyOnIdenticalPrefixes) {
  // Same second block after different first blocks must hash differently.
  const std::vector<TokenId> x = {1, 2, 3, 4, 9, 9, 9, 9};
  const std::vector<TokenId> y = {1, 2, 3, 5, 9, 9, 9, 9};
  const auto hx = hash_full_blocks(x, 4);
  const auto hy = hash_full_blocks(y, 4);
  ASSERT_EQ(hx.size(), 2u);
  EXPECT_NE(hx[0], hy[0]);
  EXPECT_NE(hx[1], hy[1]);
  // Shared prefix: equal as long as the prefixes are equal.
  const std::vector<TokenId> z = {1, 2, 3, 4, 9, 9, 9, 8};
  const auto hz = hash_full_blocks(z, 4);
  EXPECT_EQ(hx[0], hz[0]);
  EXPECT_NE(hx[1], hz[1]);
}

TEST(BlockHashTest, OnlyFullBlocksAreHashedAndChainMatchesHashBlock) {
  const auto tokens = make_tokens(10);
  const auto hashes = hash_full_blocks(tokens, 4);
  ASSERT_EQ(hashes.size(), 2u);
  const std::span<const TokenId> t(tokens);
  EXPECT_EQ(hashes[0], hash_block(std::nullopt, t.subspan(0, 4)));
  EXPECT_EQ(hashes[1], hash_block(hashes[0], t.subspan(4, 4)));
}

TEST(BlockHashTest, NoCollisionsAcrossManySmallBlocks) {
  std::set<BlockHash> seen;
  int n = 0;
  for (TokenId a = 0; a < 64; ++a)
    for (TokenId b = 0; b < 64; ++b)
      for (TokenId c = 0; c < 8; ++c, ++n) seen.insert(hash_block(std::nullopt, std::vector<TokenId>{a, b, c}));
  EXPECT_EQ(int(seen.size()), n);
}

}  // namespace
}  // namespace ladle::kvcache
