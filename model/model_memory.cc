// ModelMemory: the log line of a loaded model's memory.
#include "model/model_memory.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace ladle::model {
namespace {

std::string mib(std::size_t bytes) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f MiB", double(bytes) / (1 << 20));
  return s;
}

}  // namespace

std::string ModelMemory::describe(const char* weight_type) const {
  std::string s = resident ? mib(*resident) + " resident before the KV cache" : mib(computed_total()) + " before the KV cache";
  s += " (weights " + mib(packed_weights) + " packed " + weight_type;
  if (file_weights > 0) s += " and " + mib(file_weights) + " in the file's K-quant numbers";
  s += ", embedding " + mib(embedding) + ", step buffers and RoPE table " + mib(step_buffers);
  if (argmax_screen > 0) s += ", argmax screen " + mib(argmax_screen);
  // The rest of the resident set: code and libraries, the mapped file's touched pages, and GGUF
  // tensors widened to fp32 at load.
  if (resident && *resident > computed_total())
    s += ", other " + mib(*resident - computed_total()) + ": code, file pages, tensors widened at load";
  return s + ")";
}

std::optional<std::size_t> process_resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t total = 0, resident = 0;
  if (!(in >> total >> resident)) return std::nullopt;
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) return std::nullopt;
  return resident * std::size_t(page);
}

}  // namespace ladle::model
