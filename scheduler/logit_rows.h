// LogitRow and sample_rows: what the engine does with each row of a step's logits — sample a
// request's next token (with its log-probabilities if asked), or record the log-probability of one
// prompt token — spread over the model's compute threads.
//
// Step thread only: sample_rows forks onto the model's pool and returns when every row is done.
// Each row writes only its own request's sampler and logprob entries.
#pragma once

#include <span>
#include <vector>

#include "kvcache/ids.h"
#include "model/transformer.h"
#include "scheduler/request_state.h"

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

// Does every row's work; returns the sampled tokens (as many as `rows` has sampling rows, whose
// sample_index values must be 0, 1, ...). `logits` holds the step's rows of `vocab` floats.
std::vector<TokenId> sample_rows(std::span<const LogitRow> rows, std::span<const float> logits, int vocab,
                                 model::Transformer& model);

}  // namespace ladle::scheduler
