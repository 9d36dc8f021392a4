// fill_token_logprob: one sampled token's TokenLogprob (its log-probability and the most likely
// alternatives) from the row of logits it was sampled from. A free function; the engine calls it
// on its sampling threads, each row's TokenLogprob touched by one thread.
#pragma once

#include <span>

#include "kvcache/ids.h"
#include "scheduler/token_sink.h"

namespace ladle::scheduler {

// Writes into `out` (reusing its `top` buffer: no allocation once it has held `num_top` entries)
// `token` with its log-probability and the min(num_top, kMaxLogprobs) most likely tokens, most
// likely first, ties by lower id. `logits` is the full row over the vocabulary.
// NOTE(engine): the raw distribution, log_softmax of the logits exactly as the model produced them,
// before temperature and top-k/top-p/min-p (vLLM's default); see model/logprobs.h.
void fill_token_logprob(std::span<const float> logits, TokenId token, int num_top, TokenLogprob& out);

}  // namespace ladle::scheduler
