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
// kernel has none); call it once the buffer is written. With `collapse_now` the kernel also
// collapses it into huge pages before returning (MADV_COLLAPSE, Linux 6.1 on), not khugepaged
// over the next minutes.
// NOTE(model): start-up against speed, `ladle generate -n 48` on the Llama-3.2-1B-shaped Q4_K_M
// file (Zen 4, 2 vCPUs, quiet but for the host), twice each: --weights native (0.8 GB buffer)
// system time 1.16-1.22 s collapsed vs 0.73-0.76 s not, and only collapsed did the matmuls read
// from 2 MiB pages (model/weights.cc: +28 % at one stream); --weights q8 (1.3 GB of panels)
// 5.4-5.6 s vs 1.3-1.5 s with no decode gain visible through the noise (17.9-27.1 tok/s either
// way), so only kNative and buffers of at most 512 MiB ask for it (NOTE(weights) in
// model/weights.cc: on 4 KiB pages until khugepaged catches up, 15M's matmuls ran 5-20 % slower).
void advise_huge_pages(const StreamedBuffer& buffer, bool collapse_now = false);

}  // namespace ladle::model
