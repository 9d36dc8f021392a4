// write_synthetic_checkpoint: a deterministic random-weight llama2.c checkpoint of any shape, so
// that ladle runs, tests and benchmarks without a download.
//
// A free function; safe from any thread (it touches only the file it writes).
#pragma once

#include <cstdint>
#include <string>

#include "kvcache/expected.h"
#include "model/config.h"

namespace ladle::model {

// Writes `cfg` as a llama2.c checkpoint to `path` (shared classifier when cfg.shared_classifier,
// else a negative vocab in the header and a separate classifier after the freq_cis tables).
// Same cfg and seed ⇒ the same bytes. Matrices are uniform in ±1/√fan_in (so activations keep
// their scale through the layers), norms are 1, embeddings uniform in ±1. Fails if cfg does not
// validate or the file cannot be written.
Status write_synthetic_checkpoint(const std::string& path, const ModelConfig& cfg, std::uint64_t seed);

}  // namespace ladle::model
