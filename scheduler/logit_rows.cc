#include "scheduler/logit_rows.h"

#include "scheduler/token_logprobs.h"

namespace ladle::scheduler {

std::vector<TokenId> sample_rows(std::span<const LogitRow> rows, std::span<const float> logits, int vocab,
                                 model::Transformer& model) {
  std::size_t num_sampled = 0;
  for (const LogitRow& r : rows) num_sampled += r.prompt_index == 0;
  std::vector<TokenId> sampled(num_sampled);
  auto one = [&](int i, int) {
    const LogitRow& r = rows[std::size_t(i)];
    RequestState& st = *r.state;
    const std::span<const float> row = logits.subspan(r.row * std::size_t(vocab), std::size_t(vocab));
    if (r.prompt_index > 0) {
      fill_token_logprob(row, r.prompt_token, st.num_prompt_logprobs, st.prompt_logprobs[std::size_t(r.prompt_index - 1)]);
      return;
    }
    const TokenId token = st.sampler.sample(row);
    sampled[std::size_t(r.sample_index)] = token;
    if (st.num_logprobs >= 0) fill_token_logprob(row, token, st.num_logprobs, st.logprobs);
  };
  // Greedy rows cost ~15 us each: below a few of them a fork/join is not worth it.
  if (rows.size() >= 4) model.parallel_for(int(rows.size()), one);
  else
    for (int i = 0; i < int(rows.size()); ++i) one(i, 0);
  return sampled;
}

}  // namespace ladle::scheduler
