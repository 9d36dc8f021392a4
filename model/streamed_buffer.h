// StreamedBuffer: memory that every forward step streams through from end to end (the packed
// weights, the argmax screen's int8 classifier): 64-byte aligned and, from 2 MiB up, rounded up to
// and backed by 2 MiB pages where the kernel allows.
//
// NOTE(model): 2 MiB pages. Every step streams all the panels from memory; on 4 KiB pages that
// is a TLB miss every 4 KiB (and the hardware prefetchers stop at each page end). Asking for
// transparent huge pages measured +4-6% on the matmul shapes with W from memory
// (M = 32, one and two threads). Only a hint: without THP the buffer works the same.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>

namespace ladle::model {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using StreamedBuffer = std::unique_ptr<void, FreeDeleter>;

// At least `bytes` (and at least 64), zero-filled; null if the allocation fails.
StreamedBuffer allocate_streamed(std::size_t bytes);

}  // namespace ladle::model
