// MappedFile: a whole file mapped read-only (PROT_READ, MAP_PRIVATE), unmapped on destruction.
// Move-only; the bytes stay at the same address for the mapping's lifetime, so views into them
// survive moves of the owner. Any thread may read the bytes.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "kvcache/expected.h"

namespace ladle::model {

class MappedFile {
 public:
  // Maps `path`. kNotFound for a missing file, kInternal for another open/stat/mmap failure; an
  // empty file maps to an empty span. `what` starts the error messages ("gguf", "checkpoint").
  static Expected<MappedFile> open(const std::string& path, const std::string& what);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(map_), size_}; }

 private:
  void* map_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace ladle::model
