// build_forward_batch: the plain-data bridge from one ScheduleOutput to the model's ForwardBatch
// (the analogue of nano-vllm's prepare_prefill/prepare_decode, without a global context).
//
// Rows follow out.seqs order: for each scheduled sequence, its tokens at positions
// [num_computed_before, num_computed_before + num_new_tokens), one SequenceSlice whose
// context_len is the last position + 1, whose block table covers [0, context_len) and which
// asks for logits exactly when the entry samples. Call between schedule() and update(), on the
// engine thread; the result holds no pointers into the scheduler.
#pragma once

#include "model/forward_batch.h"
#include "scheduler/schedule_output.h"
#include "scheduler/scheduler.h"

namespace ladle::scheduler {

// Every id in `out.seqs` must still be live in `scheduler` (no abort between the two calls).
model::ForwardBatch build_forward_batch(const ScheduleOutput& out, const Scheduler& scheduler);

}  // namespace ladle::scheduler
