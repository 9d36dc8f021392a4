#include "model/streamed_buffer.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

namespace ladle::model {

StreamedBuffer allocate_streamed(std::size_t bytes) {
  constexpr std::size_t kHuge = std::size_t(2) << 20;
  bytes = std::max<std::size_t>(bytes, 64);
  const std::size_t alloc = bytes >= kHuge ? (bytes + kHuge - 1) / kHuge * kHuge : (bytes + 63) / 64 * 64;
  StreamedBuffer buffer(std::aligned_alloc(alloc >= kHuge ? kHuge : 64, alloc));
  if (!buffer) return buffer;
  if (alloc >= kHuge) ::madvise(buffer.get(), alloc, MADV_HUGEPAGE);
  std::memset(buffer.get(), 0, bytes);
  return buffer;
}

}  // namespace ladle::model
