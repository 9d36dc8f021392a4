#include "scheduler/logit_rows.h"

#include "scheduler/token_logprobs.h"

namespace ladle::scheduler {

void set_logit_needs(const ScheduleOutput& out, const RequestMap& requests, model::ForwardBatch& batch) {
  for (std::size_t i = 0; i < out.seqs.size(); ++i) {
    const RequestState& st = requests.at(out.seqs[i].id);
    model::SequenceSlice& slice = batch.seqs[i];
    slice.all_logits = st.num_prompt_logprobs >= 0 && !st.prompt_logprobs_sent &&
                       out.seqs[i].num_computed_before < st.prompt_tokens - 1;
    slice.argmax_only = st.sampler.config().temperature <= 0.0f && st.num_logprobs < 0 && !slice.all_logits;
  }
}

std::vector<LogitRow> logit_rows(const ScheduleOutput& out, const model::ForwardBatch& batch,
                                 const std::vector<bool>& dropped, RequestMap& requests, const Scheduler& scheduler) {
  std::vector<LogitRow> rows;
  rows.reserve(out.seqs.size());
  std::size_t row = 0;
  int num_sampled = 0;
  for (std::size_t i = 0; i < out.seqs.size(); ++i) {
    if (dropped[i]) continue;
    const ScheduledSequence& s = out.seqs[i];
    const model::SequenceSlice& slice = batch.seqs[i];
    RequestState& st = requests.at(s.id);
    if (slice.all_logits) {
      const auto tokens = scheduler.find(s.id)->tokens();
      // Row r holds position q = num_computed_before + r, which precedes prompt token q + 1.
      for (int r = 0; r < slice.query_len - int(slice.needs_logits); ++r, ++row) {
        const int next = s.num_computed_before + r + 1;
        if (next < st.prompt_tokens) rows.push_back({row, &st, next, 0, tokens[std::size_t(next)]});
      }
    }
    if (slice.needs_logits) rows.push_back({row++, &st, 0, num_sampled++, 0});
  }
  return rows;
}

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
