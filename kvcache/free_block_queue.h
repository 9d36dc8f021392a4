// FreeBlockQueue: the LRU list of blocks nobody references, owned by BlockPool.
//
// An intrusive doubly-linked list over block ids 0..num_blocks-1 kept in two index arrays, so
// push, pop and removal of any block (a cached block touched again by a prefix hit) are O(1)
// and nothing is allocated after construction. The front is evicted first. Not thread-safe:
// only BlockPool's owner (the engine thread) calls it.
#pragma once

#include <optional>
#include <vector>

#include "kvcache/ids.h"

namespace ladle::kvcache {

class FreeBlockQueue {
 public:
  // A queue over ids [0, num_blocks) that starts holding all of them in id order.
  explicit FreeBlockQueue(int num_blocks);

  int size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool contains(BlockId b) const { return in_queue_[std::size_t(b)]; }

  // The block that would be evicted next, if any.
  std::optional<BlockId> front() const;
  // Removes and returns the front block, or nullopt when empty.
  std::optional<BlockId> pop_front();
  // Appends `b` (must not be queued): evicted after every block already queued.
  void push_back(BlockId b);
  // Prepends `b` (must not be queued): evicted before every block already queued.
  void push_front(BlockId b);
  // Unlinks `b` (must be queued) wherever it is.
  void remove(BlockId b);

  // Queued blocks front to back; O(size), for tests and invariant checks.
  std::vector<BlockId> to_vector() const;

 private:
  // Links unqueued block b between the adjacent nodes prev and next (either may be the sentinel).
  void link_between(BlockId b, int prev, int next);

  int sentinel_;           // == num_blocks; prev_[sentinel_] is the tail, next_[sentinel_] the head
  std::vector<int> prev_;  // [num_blocks + 1]
  std::vector<int> next_;  // [num_blocks + 1]
  std::vector<bool> in_queue_;  // [num_blocks]
  int size_ = 0;
};

}  // namespace ladle::kvcache
