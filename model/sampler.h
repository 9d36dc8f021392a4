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
  struct Candidate {
    float e;  // unnormalised probability
    TokenId id;
  };
  std::vector<float> probs_;       // [vocab] softmax numerators
  // Moves the kept prefix (top-k count, top-p mass `target`) of cand_ to its front; returns its size.
  std::size_t select_prefix(std::size_t max_keep, float target);

  std::vector<Candidate> cand_;    // tokens that may survive filtering
  std::vector<std::uint32_t> bucket_count_;  // select_prefix's histogram scratch
  std::vector<float> bucket_mass_;
};

// Index of the first maximum of `logits`.
TokenId argmax(std::span<const float> logits);

// The sampler's exp for x <= 0 (flushes to 0 below -87): the portable definition, which the
// vectorised loop reproduces bit for bit.
float sampler_exp(float x);

// e[i] = sampler_exp((logits[i] - max) * inv_t) for every i; returns their sum (eight interleaved
// lanes, then a fixed tree). `portable` forces the scalar loop (tests compare the two bitwise).
float softmax_numerators(std::span<const float> logits, float max, float inv_t, float* e, bool portable);

}  // namespace ladle::model
