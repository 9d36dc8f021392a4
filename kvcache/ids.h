// Identifier types shared by every layer of ladle. Nothing else lives here.
#pragma once

#include <cstdint>
#include <vector>

namespace ladle {

using TokenId = std::int32_t;    // index into the tokenizer's vocabulary
using BlockId = std::int32_t;    // index of a KV block in the KvStore arena
using RequestId = std::uint64_t; // engine-assigned id of one generation request

// The blocks that hold one sequence's K/V, in position order: position p lives in
// block table[p / block_size] at slot p % block_size.
using BlockTable = std::vector<BlockId>;

}  // namespace ladle
