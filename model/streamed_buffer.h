// StreamedBuffer: memory that every forward step streams through from end to end (the packed
// weights, the argmax screen's int8 classifier): fresh anonymous pages (zero-filled by the kernel,
// so no pass of our own before the first write), 64-byte aligned and, from 2 MiB up, aligned to
// 2 MiB so that it can be backed by 2 MiB pages once it is filled (advise_huge_pages).
//
// NOTE(model): 2 MiB pages. Every step streams all the panels from memory; on 4 KiB pages that
// is a TLB miss every 4 KiB (and the hardware prefetchers stop at each page end). Asking for
// transparent huge pages measured +4-6% on the matmul shapes with W from memory
// (M = 32, one and two threads). Only a hint: without THP the buffer works the same.
// NOTE(model): start-up. The hint comes after the buffer is written, not at allocation: with it at
// allocation, every first write of a 2 MiB page faulted in a whole zeroed huge page, and on this
// project's VM (Zen 4, 2 vCPUs, a balloon that reports free 2 MiB blocks to the host, so each new
// huge page is also a fault on the host) zeroing the 1.25 GB of q8 panels of the Llama-3.2-1B
// shape took 2.4-3.6 s of system time against 1.1-1.3 s on 4 KiB pages (`ladle generate --weights
// q8 -n 1`, whole process, alternated twice, loaded; `perf record`: 70 % of the samples in
// clear_page_erms under do_huge_pmd_anonymous_page). Afterwards khugepaged collapses the buffer into
// huge pages in the background (with its defaults, 16 MiB every 10 s) where THP is `madvise`.
#pragma once

#include <cstddef>
#include <memory>

namespace ladle::model {

struct UnmapDeleter {
  std::size_t bytes = 0;  // the mapping's length
  void operator()(void* p) const;
};
using StreamedBuffer = std::unique_ptr<void, UnmapDeleter>;

// At least `bytes` (and at least 64), zero-filled; null if the allocation fails.
StreamedBuffer allocate_streamed(std::size_t bytes);

// Faults in the pages of bytes [from, from + bytes) of the buffer for writing, in one call
// (MADV_POPULATE_WRITE); where the kernel cannot (before Linux 5.14), the writes fault them in.
void populate_streamed(const StreamedBuffer& buffer, std::size_t from, std::size_t bytes);

// Asks for transparent huge pages behind a buffer of 2 MiB or more (a no-op below, or where the
// kernel has none); call it once the buffer is written.
void advise_huge_pages(const StreamedBuffer& buffer);

}  // namespace ladle::model
