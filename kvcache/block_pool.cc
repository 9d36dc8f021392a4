#include "kvcache/block_pool.h"

#include <algorithm>
#include <cassert>
#include <string>

namespace ladle::kvcache {

BlockPool::BlockPool(int num_blocks, int block_size, bool enable_prefix_caching)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      prefix_caching_(enable_prefix_caching),
      blocks_(std::size_t(num_blocks)),
      tokens_(enable_prefix_caching ? std::size_t(num_blocks) * std::size_t(block_size) : 0),
      free_(num_blocks) {
  assert(num_blocks >= 0 && block_size > 0);
  if (prefix_caching_) cached_.reserve(std::size_t(num_blocks));
}

std::span<const TokenId> BlockPool::stored_tokens(BlockId b) const {
  return std::span<const TokenId>(tokens_).subspan(std::size_t(b) * std::size_t(block_size_),
                                                   std::size_t(block_size_));
}

std::vector<BlockId> BlockPool::find_cached_prefix(std::span<const TokenId> tokens) const {
  std::vector<BlockId> hits;
  if (!prefix_caching_) return hits;
  const std::size_t bs = std::size_t(block_size_);
  std::optional<BlockHash> parent;
  for (std::size_t start = 0; start + bs <= tokens.size(); start += bs) {
    const std::span<const TokenId> block_tokens = tokens.subspan(start, bs);
    const BlockHash h = hash_block(parent, block_tokens);
    const auto it = cached_.find(h);
    if (it == cached_.end()) break;
    const BlockId b = it->second;
    // Verify: a hash collision must never hand out another prefix's K/V.
    const std::span<const TokenId> stored = stored_tokens(b);
    if (blocks_[std::size_t(b)].parent != parent ||
        !std::equal(stored.begin(), stored.end(), block_tokens.begin())) {
      break;
    }
    hits.push_back(b);
    parent = h;
  }
  return hits;
}

bool BlockPool::can_allocate(std::span<const BlockId> cached, int num_new_blocks) const {
  int taken_from_free = num_new_blocks;
  for (BlockId b : cached) taken_from_free += blocks_[std::size_t(b)].ref_count == 0;
  return taken_from_free <= free_.size();
}

void BlockPool::touch(std::span<const BlockId> blocks) {
  for (BlockId b : blocks) {
    Block& block = blocks_[std::size_t(b)];
    if (block.ref_count == 0) {
      free_.remove(b);
      if (block.in_map) --num_cached_free_;
    }
    ++block.ref_count;
  }
}

std::optional<std::vector<BlockId>> BlockPool::allocate(int n) {
  assert(n >= 0);
  if (n > free_.size()) return std::nullopt;
  std::vector<BlockId> out;
  out.reserve(std::size_t(n));
  for (int i = 0; i < n; ++i) {
    const BlockId b = *free_.pop_front();
    Block& block = blocks_[std::size_t(b)];
    assert(block.ref_count == 0);
    if (block.in_map) --num_cached_free_;
    drop_hash(b);  // eviction: the prefix this block held is gone
    block.ref_count = 1;
    out.push_back(b);
  }
  return out;
}

void BlockPool::drop_hash(BlockId b) {
  Block& block = blocks_[std::size_t(b)];
  if (block.in_map) {
    cached_.erase(*block.hash);
    block.in_map = false;
  }
  block.hash.reset();
  block.parent.reset();
}

void BlockPool::cache_full_blocks(std::span<const TokenId> tokens, const BlockTable& table,
                                  int num_full_blocks) {
  if (!prefix_caching_) return;
  assert(num_full_blocks <= int(table.size()));
  assert(std::size_t(num_full_blocks) * std::size_t(block_size_) <= tokens.size());
  // Walk back to the last block already hashed; everything before it is hashed too.
  int first = num_full_blocks;
  while (first > 0 && !blocks_[std::size_t(table[std::size_t(first - 1)])].hash) --first;
  std::optional<BlockHash> parent;
  if (first > 0) parent = blocks_[std::size_t(table[std::size_t(first - 1)])].hash;
  const std::size_t bs = std::size_t(block_size_);
  for (int i = first; i < num_full_blocks; ++i) {
    const BlockId b = table[std::size_t(i)];
    Block& block = blocks_[std::size_t(b)];
    const std::span<const TokenId> block_tokens = tokens.subspan(std::size_t(i) * bs, bs);
    const BlockHash h = hash_block(parent, block_tokens);
    block.hash = h;
    block.parent = parent;
    // NOTE(sched): first writer wins. A duplicate computed concurrently keeps its hash (so its
    // successors chain correctly) but is not the cached copy and is freed as uncached.
    if (cached_.try_emplace(h, b).second) {
      block.in_map = true;
      std::copy(block_tokens.begin(), block_tokens.end(),
                tokens_.begin() + std::ptrdiff_t(std::size_t(b) * bs));
    }
    parent = h;
  }
}

void BlockPool::free(BlockTable& table) {
  for (auto it = table.rbegin(); it != table.rend(); ++it) {
    const BlockId b = *it;
    Block& block = blocks_[std::size_t(b)];
    assert(block.ref_count > 0);
    if (--block.ref_count > 0) continue;
    if (block.in_map) {
      free_.push_back(b);
      ++num_cached_free_;
    } else {
      drop_hash(b);
      free_.push_front(b);
    }
  }
  table.clear();
}

void BlockPool::record_prefix_query(int queried_tokens, int hit_tokens) {
  assert(queried_tokens >= hit_tokens && hit_tokens >= 0);
  queried_tokens_ += std::uint64_t(queried_tokens);
  hit_tokens_ += std::uint64_t(hit_tokens);
}

BlockPoolStats BlockPool::stats() const {
  BlockPoolStats s;
  s.num_total = num_blocks_;
  s.num_free = free_.size();
  s.num_used = num_blocks_ - s.num_free;
  s.num_cached_free = num_cached_free_;
  s.queried_tokens = queried_tokens_;
  s.hit_tokens = hit_tokens_;
  return s;
}

std::optional<BlockHash> BlockPool::cached_hash(BlockId b) const {
  const Block& block = blocks_[std::size_t(b)];
  if (!block.in_map) return std::nullopt;
  return block.hash;
}

Status BlockPool::check_invariants() const {
  auto fail = [](std::string what) { return Status(make_error(ErrorCode::kInternal, std::move(what))); };
  int used = 0, cached_free = 0, in_map = 0;
  for (BlockId b = 0; b < num_blocks_; ++b) {
    const Block& block = blocks_[std::size_t(b)];
    const std::string id = "block " + std::to_string(b);
    if (block.ref_count < 0) return fail(id + " has a negative ref count");
    if ((block.ref_count == 0) != free_.contains(b)) return fail(id + ": free queue disagrees with ref count");
    used += block.ref_count > 0;
    if (block.in_map) {
      ++in_map;
      cached_free += block.ref_count == 0;
      const auto it = block.hash ? cached_.find(*block.hash) : cached_.end();
      if (it == cached_.end() || it->second != b) return fail(id + " is not the map entry of its hash");
    }
  }
  if (used + free_.size() != num_blocks_) return fail("used + free != total");
  if (in_map != int(cached_.size())) return fail("hash map holds blocks not marked cached");
  if (cached_free != num_cached_free_) return fail("cached-free count drifted");
  return Ok{};
}

}  // namespace ladle::kvcache
