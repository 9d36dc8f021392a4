#include "model/sampler.h"

#include <algorithm>
#include <cmath>

namespace ladle::model {

TokenId argmax(std::span<const float> logits) {
  TokenId best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = TokenId(i);
  return best;
}

Sampler::Sampler(SamplerConfig cfg, std::uint64_t seed) : cfg_(cfg) {
  // splitmix64 of the seed: a zero or small seed still starts xorshift* from a good state.
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  state_ = (z ^ (z >> 31)) | 1;
}

float Sampler::next_uniform() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return float((state_ * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

TokenId Sampler::sample(std::span<const float> logits) {
  if (cfg_.temperature <= 0.0f || logits.size() == 1) return argmax(logits);
  const std::size_t n = logits.size();
  probs_.resize(n);
  // softmax(logits / T)
  float max_val = logits[0];
  for (float v : logits) max_val = std::max(max_val, v);
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    probs_[i] = std::exp((logits[i] - max_val) / cfg_.temperature);
    sum += probs_[i];
  }
  for (float& p : probs_) p /= sum;

  const bool filter = (cfg_.top_k > 0 && std::size_t(cfg_.top_k) < n) || cfg_.top_p < 1.0f || cfg_.min_p > 0.0f;
  if (!filter) {  // plain multinomial over ids in order, as run.c's sample_mult
    const float r = next_uniform();
    float cdf = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
      cdf += probs_[i];
      if (r < cdf) return TokenId(i);
    }
    return TokenId(n - 1);
  }
  order_.resize(n);
  for (std::size_t i = 0; i < n; ++i) order_[i] = TokenId(i);
  auto by_prob = [&](TokenId a, TokenId b) { return probs_[a] > probs_[b] || (probs_[a] == probs_[b] && a < b); };
  std::size_t keep = n;
  if (cfg_.top_k > 0 && std::size_t(cfg_.top_k) < n) {
    keep = std::size_t(cfg_.top_k);
    std::partial_sort(order_.begin(), order_.begin() + keep, order_.end(), by_prob);
  } else {
    std::sort(order_.begin(), order_.end(), by_prob);
  }
  if (cfg_.min_p > 0.0f) {
    const float floor = cfg_.min_p * probs_[order_[0]];
    std::size_t k = 1;
    while (k < keep && probs_[order_[k]] >= floor) ++k;
    keep = k;
  }
  if (cfg_.top_p < 1.0f) {
    float mass = 0.0f;
    std::size_t k = 0;
    while (k < keep) {
      mass += probs_[order_[k++]];
      if (mass >= cfg_.top_p) break;
    }
    keep = std::max<std::size_t>(k, 1);
  }
  float kept_mass = 0.0f;
  for (std::size_t k = 0; k < keep; ++k) kept_mass += probs_[order_[k]];
  const float r = next_uniform() * kept_mass;
  float cdf = 0.0f;
  for (std::size_t k = 0; k < keep; ++k) {
    cdf += probs_[order_[k]];
    if (r < cdf) return order_[k];
  }
  return order_[keep - 1];
}

}  // namespace ladle::model
