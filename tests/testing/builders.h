// Small builders shared by the kvcache and scheduler tests (the shape of vLLM's
// tests/v1/core/utils.py): pools, token runs, scheduler configs and a driver that feeds
// fabricated sampled tokens to Scheduler::update(). Header-only; test threads only.
#pragma once

#include <functional>
#include <numeric>
#include <span>
#include <vector>

#include "kvcache/block_pool.h"
#include "kvcache/ids.h"

namespace ladle::testing {

// A pool of `num_blocks` blocks of `block_size` tokens (prefix caching on by default).
inline kvcache::BlockPool make_pool(int num_blocks, int block_size = 4, bool prefix_caching = true) {
  return kvcache::BlockPool(num_blocks, block_size, prefix_caching);
}

// `n` consecutive token ids first, first+1, ... (ids above 2 so they are never BOS/EOS).
inline std::vector<TokenId> make_tokens(int n, TokenId first = 100) {
  std::vector<TokenId> tokens(static_cast<std::size_t>(n));
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

// a followed by b.
inline std::vector<TokenId> concat(std::span<const TokenId> a, std::span<const TokenId> b) {
  std::vector<TokenId> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace ladle::testing
