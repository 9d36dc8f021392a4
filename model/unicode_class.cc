// unicode_class: codepoint flags from the generated range table (see unicode_class.h).
#include "model/unicode_class.h"

#include <algorithm>

namespace ladle::model {

std::uint16_t unicode_flags(std::uint32_t cp) {
  using unicode_detail::kNumUnicodeRanges;
  using unicode_detail::kUnicodeRanges;
  if (cp >= 0x110000) return kUnassigned;
  // The last range whose start is <= cp (the first range starts at 0).
  const auto* end = kUnicodeRanges + kNumUnicodeRanges;
  const auto* it = std::upper_bound(kUnicodeRanges, end, cp,
                                    [](std::uint32_t c, const unicode_detail::UnicodeRange& r) { return c < r.start; });
  return (it - 1)->flags;
}

}  // namespace ladle::model
