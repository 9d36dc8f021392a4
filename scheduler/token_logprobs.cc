#include "scheduler/token_logprobs.h"

#include <algorithm>
#include <array>
#include <cassert>

#include "model/logprobs.h"
#include "scheduler/sampling_params.h"

namespace ladle::scheduler {

void fill_token_logprob(std::span<const float> logits, TokenId token, int num_top, TokenLogprob& out) {
  assert(token >= 0 && std::size_t(token) < logits.size());
  const double log_z = model::log_sum_exp(logits);
  auto logprob = [&](TokenId id) { return float(double(logits[std::size_t(id)]) - log_z); };
  out.token = token;
  out.logprob = logprob(token);
  std::array<TokenId, kMaxLogprobs> ids;
  const int k = model::top_tokens(logits, std::clamp(num_top, 0, kMaxLogprobs), ids.data());
  out.top.resize(std::size_t(k));
  for (int i = 0; i < k; ++i) out.top[std::size_t(i)] = TopLogprob{ids[std::size_t(i)], logprob(ids[std::size_t(i)])};
}

}  // namespace ladle::scheduler
