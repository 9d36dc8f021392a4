// ScheduleOutput and UpdateOutput: the plain data crossing the step boundary. Scheduler::schedule()
// returns a ScheduleOutput; the engine builds a ForwardBatch from it, runs the model, samples one
// token per entry with `samples`, and hands both back to Scheduler::update(), which returns an
// UpdateOutput. No pointers into the scheduler; cheap to copy; any thread may read a copy.
#pragma once

#include <utility>
#include <vector>

#include "kvcache/ids.h"
#include "scheduler/token_sink.h"

namespace ladle::scheduler {

struct ScheduledSequence {
  RequestId id = 0;
  int num_new_tokens = 0;       // tokens computed this step: positions [num_computed_before, +num_new_tokens)
  int num_computed_before = 0;  // tokens with K/V before this step (prefix hits included)
  bool samples = false;         // this chunk reaches the sequence's last token: sample from its logits
};

struct ScheduleOutput {
  std::vector<ScheduledSequence> seqs;  // running sequences first, then newly admitted, in order
  std::vector<RequestId> preempted;     // sent back to waiting this step, in preemption order
  int num_batched_tokens = 0;           // sum of num_new_tokens
  int num_prefill_tokens = 0;           // of which prompt (or recomputed) tokens
  int num_decode_tokens = 0;            // of which single-token decode steps
  int num_sampled_rows = 0;             // entries with `samples` (a decode, or a prompt's last chunk)
  bool empty() const { return seqs.empty(); }
};

struct SequenceFinish {
  RequestId id = 0;
  FinishReason reason = FinishReason::kStop;
};

struct UpdateOutput {
  std::vector<std::pair<RequestId, TokenId>> appended;  // tokens appended this step, in seqs order
  std::vector<SequenceFinish> finished;                 // their blocks are already freed
};

}  // namespace ladle::scheduler
