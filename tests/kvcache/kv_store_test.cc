// KvStore: block tiles do not overlap, a half store takes half the bytes per block (so twice the
// blocks per budget), a new arena reads as zeros, and the dtype names parse.
#include "kvcache/kv_store.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <set>

namespace ladle::kvcache {
namespace {

TEST(KvStoreTest, HalfBlocksTakeHalfTheBytes) {
  const KvShape f32{3, 40, 16, KvDtype::kF32}, f16{3, 40, 16, KvDtype::kF16};
  EXPECT_EQ(KvStore::bytes_per_block(f32), 3u * 2 * 16 * 40 * 4);
  EXPECT_EQ(KvStore::bytes_per_block(f16), KvStore::bytes_per_block(f32) / 2);
  const std::size_t budget = 100 * KvStore::bytes_per_block(f32) + 7;
  EXPECT_EQ(KvStore::blocks_for_budget(f32, budget), 100);
  EXPECT_EQ(KvStore::blocks_for_budget(f16, budget), 200);
}

template <class T>
void expect_disjoint_zeroed_tiles(KvStore& kv) {
  const KvShape& s = kv.shape();
  const std::size_t tile = std::size_t(s.block_size) * s.kv_dim;
  std::set<const T*> starts;
  for (int l = 0; l < s.n_layers; ++l)
    for (BlockId b = 0; b < kv.num_blocks(); ++b) {
      T* k = kv.template key_block<T>(l, b);
      T* v = kv.template value_block<T>(l, b);
      EXPECT_EQ(v, k + tile);
      EXPECT_TRUE(starts.insert(k).second);
      for (std::size_t i = 0; i < 2 * tile; ++i) ASSERT_EQ(k[i], T(0));
      for (std::size_t i = 0; i < 2 * tile; ++i) k[i] = T(1);  // writes stay inside the arena (ASan)
    }
  // Tiles are laid out back to back: the lowest and highest start span the whole arena.
  EXPECT_EQ(*starts.rbegin() - *starts.begin(), std::ptrdiff_t((starts.size() - 1) * 2 * tile));
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(*starts.begin()) % 64, 0u);
}

TEST(KvStoreTest, TilesAreDisjointZeroedAndAligned) {
  KvStore f32({2, 24, 4, KvDtype::kF32}, 5);
  expect_disjoint_zeroed_tiles<float>(f32);
  KvStore f16({2, 24, 4, KvDtype::kF16}, 5);
  expect_disjoint_zeroed_tiles<std::uint16_t>(f16);
}

TEST(KvStoreTest, DtypeNamesParse) {
  EXPECT_EQ(*parse_kv_dtype("f32"), KvDtype::kF32);
  EXPECT_EQ(*parse_kv_dtype("f16"), KvDtype::kF16);
  EXPECT_STREQ(kv_dtype_name(KvDtype::kF16), "f16");
  const auto bad = parse_kv_dtype("fp8");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ladle::kvcache
