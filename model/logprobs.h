// Log-probabilities of one row of logits: the log-partition log Σ e^l (so that a token's
// log-probability is its logit minus it) and the most likely tokens. Free functions without state
// on plain float rows; callable from any thread (the engine runs them on its sampling threads).
//
// NOTE(model): these are the RAW log-probabilities of the model's full distribution, a
// log_softmax over every vocabulary logit as the classifier produced it: no temperature, no
// top-k/top-p/min-p filtering (vLLM's default logprobs mode, "raw_logprobs"). A request's
// sampling settings change which token is drawn, never the numbers reported for it.
#pragma once

#include <span>

#include "kvcache/ids.h"

namespace ladle::model {

// log Σ_i e^{logits[i]}, computed stably: the row's maximum m plus log Σ e^{logits[i] − m}, whose
// terms (vec8's exp, a few ulp from expf) are summed in double. A token's log-probability is then
// double(logits[i]) − log_sum_exp(logits). The AVX2 and the portable build give the same bits
// (`portable` forces the latter, for tests). An empty row gives -inf; a row whose maximum is not
// finite gives that maximum (±inf) or NaN.
double log_sum_exp(std::span<const float> logits, bool portable = false);

// Writes to out[0, k) the k = min(n, logits.size()) tokens with the largest logits, most likely
// first, ties broken by lower id (so out[0] is argmax(logits), the first maximum), and returns k.
// One pass over the row; NaN logits rank below every number (and are returned only to make up k).
int top_tokens(std::span<const float> logits, int n, TokenId* out);

}  // namespace ladle::model
