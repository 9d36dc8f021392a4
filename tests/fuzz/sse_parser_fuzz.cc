// Fuzz target: the load generator's SSE parser (bench/loadgen/sse_parser.h). The input is fed
// whole, then again split at positions drawn from its own bytes, then one byte at a time.
//
// Checks: no crash or sanitizer report; the events (and whether a partial event is left) do not
// depend on how the bytes were split; no event's fields contain a line terminator other than the
// '\n' that joins data lines.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "bench/loadgen/sse_parser.h"

using namespace ladle::loadgen;

namespace {

bool same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].is_comment != b[i].is_comment) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  SseParser whole;
  std::vector<SseEvent> want;
  whole.feed(bytes, want);
  for (const auto& e : want) {
    if (e.event.find_first_of("\r\n") != std::string::npos) std::abort();
    if (e.data.find('\r') != std::string::npos) std::abort();
    if (e.is_comment && e.data.find('\n') != std::string::npos) std::abort();
  }

  SseParser split;
  std::vector<SseEvent> got;
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < size; ++i) {
    const std::size_t n = 1 + (i < size ? data[i] % 7 : 0);
    split.feed(bytes.substr(pos, n), got);
    pos += n;
  }
  if (!same(want, got) || whole.has_partial() != split.has_partial()) std::abort();

  SseParser bytewise;
  got.clear();
  for (char c : bytes) bytewise.feed(std::string_view(&c, 1), got);
  if (!same(want, got) || whole.has_partial() != bytewise.has_partial()) std::abort();
  return 0;
}
