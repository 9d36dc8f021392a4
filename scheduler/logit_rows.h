// The rows of a step's logits and what the engine does with each: which logits a slice asks the
// model for (set_logit_needs), then, per row, sample the request's next token (with its
// log-probabilities if asked) or record the log-probability of one prompt token (logit_rows,
// sample_rows), the rows spread over the model's compute threads.
//
// Step thread only: sample_rows forks onto the model's pool and returns when every row is done.
// Each row writes only its own request's sampler and logprob entries.
#pragma once

#include <span>
#include <unordered_map>
#include <vector>

#include "kvcache/ids.h"
#include "model/forward_batch.h"
#include "model/transformer.h"
#include "scheduler/request_state.h"
#include "scheduler/schedule_output.h"
#include "scheduler/scheduler.h"

namespace ladle::scheduler {

struct LogitRow {
  std::size_t row = 0;          // index of the row in the step's logits
  RequestState* state = nullptr;
  // 0: sample the request's next token into sampled[sample_index]. k >= 1: the row precedes
  // prompt token k (`prompt_token`), whose log-probability goes to state->prompt_logprobs[k - 1].
  int prompt_index = 0;
  int sample_index = 0;
  TokenId prompt_token = 0;
};

using RequestMap = std::unordered_map<RequestId, RequestState>;

// Sets each slice's argmax_only and all_logits (batch.seqs[i] is out.seqs[i]): greedy requests
// want only their logits' first maximum, which the model may find without computing every logit
// (model/argmax_screen.h), unless they want log-probabilities, which need them all (and then take
// the same first maximum from them); a chunk of a prompt whose log-probabilities are still to be
// delivered wants the logits of all its rows.
void set_logit_needs(const ScheduleOutput& out, const RequestMap& requests, model::ForwardBatch& batch);

// What each row of the step's logits is for, in row order (the num_logit_rows() of each slice not
// `dropped`): the sampling rows in out.seqs order, and before each all_logits slice's last row,
// its rows that precede a prompt token (of the sequence as `scheduler` holds it).
std::vector<LogitRow> logit_rows(const ScheduleOutput& out, const model::ForwardBatch& batch,
                                 const std::vector<bool>& dropped, RequestMap& requests, const Scheduler& scheduler);

// Does every row's work; returns the sampled tokens (as many as `rows` has sampling rows, whose
// sample_index values must be 0, 1, ...). `logits` holds the step's rows of `vocab` floats.
std::vector<TokenId> sample_rows(std::span<const LogitRow> rows, std::span<const float> logits, int vocab,
                                 model::Transformer& model);

}  // namespace ladle::scheduler
