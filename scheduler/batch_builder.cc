#include "scheduler/batch_builder.h"

#include <cassert>

namespace ladle::scheduler {

model::ForwardBatch build_forward_batch(const ScheduleOutput& out, const Scheduler& scheduler) {
  model::ForwardBatch batch;
  batch.token_ids.reserve(std::size_t(out.num_batched_tokens));
  batch.positions.reserve(std::size_t(out.num_batched_tokens));
  batch.seqs.reserve(out.seqs.size());
  const int block_size = scheduler.config().block_size;
  for (const ScheduledSequence& s : out.seqs) {
    const Sequence* seq = scheduler.find(s.id);
    assert(seq != nullptr);
    const int context_len = s.num_computed_before + s.num_new_tokens;
    assert(context_len <= seq->num_tokens());
    model::SequenceSlice slice;
    slice.query_start = std::int32_t(batch.token_ids.size());
    slice.query_len = s.num_new_tokens;
    slice.context_len = context_len;
    const auto& table = seq->block_table();
    const std::size_t num_blocks = std::size_t((context_len + block_size - 1) / block_size);
    assert(num_blocks <= table.size());
    slice.block_table.assign(table.begin(), table.begin() + std::ptrdiff_t(num_blocks));
    slice.needs_logits = s.samples;
    const auto tokens = seq->tokens();
    for (int pos = s.num_computed_before; pos < context_len; ++pos) {
      batch.token_ids.push_back(tokens[std::size_t(pos)]);
      batch.positions.push_back(pos);
    }
    batch.seqs.push_back(std::move(slice));
  }
  return batch;
}

}  // namespace ladle::scheduler
