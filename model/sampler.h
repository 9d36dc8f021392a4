// Sampler: picks the next token of one sequence from its logits — greedy, or temperature with
// optional top-k, top-p (nucleus) and min-p filtering — with the sequence's own seeded RNG.
//
// One Sampler per sequence, owned by whoever owns the sequence, used by one thread at a time.
// Because the RNG is per sequence, a seeded request draws the same tokens whatever else shares
// its batch.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kvcache/ids.h"

namespace ladle::model {

struct SamplerConfig {
  float temperature = 1.0f;  // 0 = greedy
  int top_k = 0;             // keep the k most probable tokens; 0 = all
  float top_p = 1.0f;        // keep the smallest prefix (by probability) whose mass reaches top_p
  float min_p = 0.0f;        // drop tokens with p < min_p · p_max
};

class Sampler {
 public:
  Sampler(SamplerConfig cfg, std::uint64_t seed);

  // The next token for `logits` (one row, vocab floats). Greedy when temperature == 0: the first
  // maximum wins, as in run.c. Otherwise softmax(logits / T), filtered by top-k, min-p and top-p
  // (in that order, ties broken by lower id) and renormalised, then one draw from the RNG.
  TokenId sample(std::span<const float> logits);

  const SamplerConfig& config() const { return cfg_; }
  // A float in [0, 1) from the sequence's RNG (xorshift*, as run.c's random_f32).
  float next_uniform();

 private:
  SamplerConfig cfg_;
  std::uint64_t state_;
  std::vector<float> probs_;       // [vocab] scratch
  std::vector<TokenId> order_;     // [vocab] candidate ids sorted by probability
};

// Index of the first maximum of `logits`.
TokenId argmax(std::span<const float> logits);

}  // namespace ladle::model
