#include "kvcache/block_hash.h"

#include <cassert>

namespace ladle::kvcache {
namespace {

// splitmix64's finalizer: a fast bijective mixer with full avalanche.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Seed for a block without a parent: distinct from any mixed value a parent is likely to hold.
constexpr std::uint64_t kRootSeed = 0x6c61646c65ULL;  // "ladle"

}  // namespace

BlockHash hash_block(std::optional<BlockHash> parent, std::span<const TokenId> tokens) {
  // NOTE(sched): the parent is folded in first and every token goes through a bijective mixer
  // together with its position, so equal token multisets in another order hash differently.
  std::uint64_t h = mix(parent ? *parent ^ 0x9e3779b97f4a7c15ULL : kRootSeed);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    h = mix(h ^ (std::uint64_t(std::uint32_t(tokens[i])) | (std::uint64_t(i) << 32)));
  }
  return mix(h ^ tokens.size());
}

std::vector<BlockHash> hash_full_blocks(std::span<const TokenId> tokens, int block_size) {
  assert(block_size > 0);
  std::vector<BlockHash> hashes;
  const std::size_t bs = std::size_t(block_size);
  hashes.reserve(tokens.size() / bs);
  std::optional<BlockHash> parent;
  for (std::size_t start = 0; start + bs <= tokens.size(); start += bs) {
    parent = hash_block(parent, tokens.subspan(start, bs));
    hashes.push_back(*parent);
  }
  return hashes;
}

}  // namespace ladle::kvcache
