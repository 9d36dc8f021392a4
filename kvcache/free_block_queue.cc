#include "kvcache/free_block_queue.h"

#include <cassert>

namespace ladle::kvcache {

// NOTE(sched): a circular list through one sentinel node removes every head/tail special case.
FreeBlockQueue::FreeBlockQueue(int num_blocks)
    : sentinel_(num_blocks),
      prev_(std::size_t(num_blocks) + 1),
      next_(std::size_t(num_blocks) + 1),
      in_queue_(std::size_t(num_blocks), false) {
  assert(num_blocks >= 0);
  prev_[std::size_t(sentinel_)] = sentinel_;
  next_[std::size_t(sentinel_)] = sentinel_;
  for (BlockId b = 0; b < num_blocks; ++b) push_back(b);
}

std::optional<BlockId> FreeBlockQueue::front() const {
  if (empty()) return std::nullopt;
  return BlockId(next_[std::size_t(sentinel_)]);
}

std::optional<BlockId> FreeBlockQueue::pop_front() {
  std::optional<BlockId> b = front();
  if (b) remove(*b);
  return b;
}

void FreeBlockQueue::push_back(BlockId b) { link_between(b, prev_[std::size_t(sentinel_)], sentinel_); }

void FreeBlockQueue::push_front(BlockId b) { link_between(b, sentinel_, next_[std::size_t(sentinel_)]); }

void FreeBlockQueue::link_between(BlockId b, int prev, int next) {
  assert(b >= 0 && b < sentinel_ && !in_queue_[std::size_t(b)]);
  prev_[std::size_t(b)] = prev;
  next_[std::size_t(b)] = next;
  next_[std::size_t(prev)] = b;
  prev_[std::size_t(next)] = b;
  in_queue_[std::size_t(b)] = true;
  ++size_;
}

void FreeBlockQueue::remove(BlockId b) {
  assert(b >= 0 && b < sentinel_ && in_queue_[std::size_t(b)]);
  const int prev = prev_[std::size_t(b)];
  const int next = next_[std::size_t(b)];
  next_[std::size_t(prev)] = next;
  prev_[std::size_t(next)] = prev;
  in_queue_[std::size_t(b)] = false;
  --size_;
}

std::vector<BlockId> FreeBlockQueue::to_vector() const {
  std::vector<BlockId> out;
  out.reserve(std::size_t(size_));
  for (int b = next_[std::size_t(sentinel_)]; b != sentinel_; b = next_[std::size_t(b)]) out.push_back(b);
  return out;
}

}  // namespace ladle::kvcache
