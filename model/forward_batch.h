// ForwardBatch: the plain-data description of one forward step, built by the scheduler's batch
// builder and read by Transformer::forward. It holds no pointers into the scheduler.
//
// A step is any mix of prompt chunks and single decode tokens from many sequences. Tokens of one
// sequence are contiguous rows [query_start, query_start + query_len) of the step; their K/V are
// written to the slots in slot_mapping, and attention for each of them reads positions
// [0, its own position] of that sequence through the sequence's block table.
#pragma once

#include <cstdint>
#include <vector>

#include "kvcache/ids.h"

namespace ladle::model {

struct SequenceSlice {
  std::int32_t query_start = 0;  // first row of this sequence in token_ids
  std::int32_t query_len = 0;    // tokens of this sequence computed in this step (>= 1)
  std::int32_t context_len = 0;  // tokens in the sequence's KV after this step (last position + 1)
  BlockTable block_table;        // blocks covering positions [0, context_len)
  bool needs_logits = false;     // produce logits for the last row of this slice
  bool argmax_only = false;      // with needs_logits: only its first maximum is wanted (greedy)
  // Produce logits for every row of this slice, not only the last (prompt log-probabilities). The
  // row order is the slice's; needs_logits then says whether its last row is also sampled.
  bool all_logits = false;

  // Rows of logits this slice gets back.
  int num_logit_rows() const { return all_logits ? query_len : int(needs_logits); }
};

struct ForwardBatch {
  std::vector<TokenId> token_ids;      // [num_tokens]
  std::vector<std::int32_t> positions; // [num_tokens] position of each token in its sequence
  std::vector<SequenceSlice> seqs;     // [num_seqs], slices in row order

  int num_tokens() const { return int(token_ids.size()); }
  // Logits come back in slice order: one row per slice with needs_logits, or each row of a slice
  // with all_logits.
  int num_logit_rows() const {
    int n = 0;
    for (const auto& s : seqs) n += s.num_logit_rows();
    return n;
  }
};

}  // namespace ladle::model
