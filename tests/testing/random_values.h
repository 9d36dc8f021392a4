// random_vec: reproducible uniform floats for the model tests (kernels, ops). Header-only.
#pragma once

#include <cstddef>
#include <random>
#include <vector>

namespace ladle::testing {

// `n` floats uniform in [-scale, scale), the same for the same seed.
inline std::vector<float> random_vec(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

}  // namespace ladle::testing
