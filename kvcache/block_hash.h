// Chained hash of one full KV block: the key of the prefix cache.
//
// hash_block(parent, tokens) mixes the hash of the block before (none for the first block) with
// the block's token ids, so two blocks hash alike only when their whole prefixes are alike
// (up to 64-bit collisions, which BlockPool guards against by comparing the stored tokens and
// parent hash on every hit). Only full blocks are ever hashed. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "kvcache/ids.h"

namespace ladle::kvcache {

using BlockHash = std::uint64_t;

// Hash of a block holding `tokens`, whose predecessor block hashed to `parent` (nullopt for the
// first block of a sequence).
BlockHash hash_block(std::optional<BlockHash> parent, std::span<const TokenId> tokens);

// Chained hashes of every full block of `tokens` (a trailing partial block is not hashed):
// result[i] = hash_block(result[i-1], tokens[i*block_size, (i+1)*block_size)).
std::vector<BlockHash> hash_full_blocks(std::span<const TokenId> tokens, int block_size);

}  // namespace ladle::kvcache
