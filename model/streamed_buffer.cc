#include "model/streamed_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>

namespace ladle::model {

namespace {
constexpr std::size_t kHuge = std::size_t(2) << 20, kPage = 4096;
}

void UnmapDeleter::operator()(void* p) const { ::munmap(p, bytes); }

StreamedBuffer allocate_streamed(std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 64);
  const bool huge = bytes >= kHuge;
  const std::size_t align = huge ? kHuge : kPage;
  const std::size_t size = (bytes + align - 1) / align * align;
  // Over-map by one alignment unit, then trim both ends to an aligned run of `size` bytes.
  const std::size_t span = huge ? size + kHuge : size;
  void* map = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return StreamedBuffer(nullptr, UnmapDeleter{0});
  const std::uintptr_t begin = std::uintptr_t(map), at = (begin + align - 1) / align * align;
  if (at > begin) ::munmap(map, at - begin);
  if (begin + span > at + size) ::munmap(reinterpret_cast<void*>(at + size), begin + span - (at + size));
  return StreamedBuffer(reinterpret_cast<void*>(at), UnmapDeleter{size});
}

void populate_streamed(const StreamedBuffer& buffer, std::size_t from, std::size_t bytes) {
#ifdef MADV_POPULATE_WRITE
  if (buffer && bytes > 0) ::madvise(static_cast<char*>(buffer.get()) + from, bytes, MADV_POPULATE_WRITE);
#else
  (void)buffer, (void)from, (void)bytes;
#endif
}

void advise_huge_pages(const StreamedBuffer& buffer, bool collapse_now) {
  if (!buffer || buffer.get_deleter().bytes < kHuge) return;
  ::madvise(buffer.get(), buffer.get_deleter().bytes, MADV_HUGEPAGE);
  // MADV_COLLAPSE (Linux 6.1 on; an error elsewhere, and the hint above still stands).
  constexpr int kMadvCollapse = 25;  // absent from older headers
  if (collapse_now) ::madvise(buffer.get(), buffer.get_deleter().bytes, kMadvCollapse);
}

}  // namespace ladle::model
