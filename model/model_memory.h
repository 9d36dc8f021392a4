// ModelMemory: what a loaded model holds in memory before its KV cache is allocated, so that a
// server can say at start-up what the model costs and what is left for the cache. A value type
// filled by Transformer::memory(); describe() is the log line's text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace ladle::model {

struct ModelMemory {
  std::size_t packed_weights = 0;  // the matmul matrices' panels at the weights' type (owned)
  // Matrices matmul reads in the file's own K-quant numbers (`--weights native`: rearranged into
  // panels of 16 rows, model/ggml_panels.h), not counted in packed_weights.
  std::size_t file_weights = 0;
  std::size_t embedding = 0;       // the token embedding read by row: fp32 (mapped or widened) or the file's blocks
  std::size_t step_buffers = 0;    // activations, logits and the RoPE table (owned)
  std::size_t argmax_screen = 0;   // the classifier's int8 screen (owned), 0 if none
  // The process's resident set after load (/proc/self/statm): every page the model touched, the
  // mapped file's included; nullopt where it cannot be read.
  std::optional<std::size_t> resident;

  std::size_t computed_total() const {
    return packed_weights + file_weights + embedding + step_buffers + argmax_screen;
  }
  // "412.3 MiB resident before the KV cache (weights 380.1 MiB packed f16, embedding ..., other
  // ...)": the parts, and what the resident set holds beyond them.
  std::string describe(const char* weight_type) const;
};

// Resident bytes of this process, from /proc/self/statm; nullopt where it is not available.
std::optional<std::size_t> process_resident_bytes();

}  // namespace ladle::model
