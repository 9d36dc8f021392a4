// BlockPool: the bookkeeping of the paged KV cache — which blocks are in use, by how many
// sequences, and which freed blocks still hold a reusable prefix. It never touches floats (the
// K/V live in KvStore) and hands out block ids, never pointers into itself.
//
// Owner: the scheduler's owner (LlmEngine). Thread: the engine thread only; no locking.
//
// Prefix caching: once a block is full and computed, cache_full_blocks() registers it under a
// chained hash of its prefix (kvcache/block_hash.h). A later request whose prompt starts with
// the same full blocks finds them with find_cached_prefix() and takes references with touch()
// instead of recomputing. A hit is verified by comparing the block's stored tokens and parent
// hash, so a 64-bit collision can never serve foreign K/V. Freed blocks (ref count 0) wait in an
// LRU free queue; cached ones keep their hash until allocate() needs the space and evicts them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "kvcache/block_hash.h"
#include "kvcache/expected.h"
#include "kvcache/free_block_queue.h"
#include "kvcache/ids.h"

namespace ladle::kvcache {

struct BlockPoolStats {
  int num_total = 0;
  int num_used = 0;         // ref_count > 0
  int num_cached_free = 0;  // ref_count == 0, still holding a reusable full-block hash
  int num_free = 0;         // every ref_count == 0 block, cached ones included
  std::uint64_t queried_tokens = 0;  // cumulative prompt tokens looked up in the prefix cache
  std::uint64_t hit_tokens = 0;      // cumulative of those served from it
};

class BlockPool {
 public:
  // A pool of `num_blocks` blocks of `block_size` tokens, all free. With prefix caching off,
  // find_cached_prefix() never hits and cache_full_blocks() does nothing.
  BlockPool(int num_blocks, int block_size, bool enable_prefix_caching);

  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  bool prefix_caching() const { return prefix_caching_; }
  // Blocks with ref_count 0 (cached or not): what allocate() can hand out.
  int num_free_blocks() const { return free_.size(); }

  // The blocks caching the longest run of full blocks at the start of `tokens`, in order. Takes no
  // reference (call touch()). Callers pass every token but the last one they need logits for, so
  // that token is always computed.
  std::vector<BlockId> find_cached_prefix(std::span<const TokenId> tokens) const;

  // Whether touch(cached) followed by allocate(num_new_blocks) would succeed: cached blocks that
  // sit in the free queue stop being allocatable once touched.
  bool can_allocate(std::span<const BlockId> cached, int num_new_blocks) const;

  // Takes one reference on each block; a block leaving ref_count 0 leaves the free queue (O(1))
  // and keeps its hash, so it can be shared further.
  void touch(std::span<const BlockId> blocks);

  // `n` blocks with ref_count 1, taken from the front of the free queue (evicting the cached
  // prefix they held), or nullopt with the pool unchanged when fewer than `n` are free.
  std::optional<std::vector<BlockId>> allocate(int n);

  // Registers the full, computed blocks table[0, num_full_blocks) that hold `tokens` (the
  // sequence's tokens from position 0) in the prefix cache. Blocks already hashed are skipped, so
  // the cost is the number of newly full blocks. When another block already caches the same
  // prefix, that one stays the cached copy and this block is freed as uncached later.
  void cache_full_blocks(std::span<const TokenId> tokens, const BlockTable& table, int num_full_blocks);

  // Drops one reference on each block of `table`, last block first, and clears it. Blocks reaching
  // ref_count 0 join the free queue: cached ones at the back in that reverse order (a sequence's
  // tail is evicted before its head, which others are likelier to share), uncached ones at the front
  // (reusing them loses nothing).
  void free(BlockTable& table);

  // Accounts one prefix-cache lookup for the hit-rate counters (called once per admission).
  void record_prefix_query(int queried_tokens, int hit_tokens);

  BlockPoolStats stats() const;

  // Introspection for tests and invariant checks.
  int ref_count(BlockId b) const { return blocks_[std::size_t(b)].ref_count; }
  // The hash block `b` is registered under in the prefix cache, if any.
  std::optional<BlockHash> cached_hash(BlockId b) const;
  // Free queue front (evicted next) to back.
  std::vector<BlockId> free_queue_order() const { return free_.to_vector(); }
  // O(num_blocks) consistency check: ref counts >= 0, free queue == ref-0 blocks,
  // used + free == total, hash map and per-block hashes agree, cached-free count is exact.
  Status check_invariants() const;

 private:
  struct Block {
    int ref_count = 0;
    std::optional<BlockHash> hash;    // set once full and computed
    std::optional<BlockHash> parent;  // hash of the block before it (nullopt: first block)
    bool in_map = false;              // this block is the cached copy for `hash`
  };

  std::span<const TokenId> stored_tokens(BlockId b) const;
  // Forgets block b's hash (and its map entry when it owns it).
  void drop_hash(BlockId b);

  int num_blocks_;
  int block_size_;
  bool prefix_caching_;
  std::vector<Block> blocks_;                          // [num_blocks]
  std::vector<TokenId> tokens_;                        // [num_blocks × block_size] when caching
  FreeBlockQueue free_;                                // ref_count == 0 blocks, LRU front
  std::unordered_map<BlockHash, BlockId> cached_;      // hash → its cached copy
  int num_cached_free_ = 0;                            // in free_ with in_map
  std::uint64_t queried_tokens_ = 0;
  std::uint64_t hit_tokens_ = 0;
};

}  // namespace ladle::kvcache
