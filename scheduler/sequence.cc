#include "scheduler/sequence.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace ladle::scheduler {

Sequence::Sequence(RequestId id, std::vector<TokenId> prompt, int max_tokens, bool ignore_eos, SequenceRank rank)
    : id_(id),
      rank_(rank),
      tokens_(std::move(prompt)),
      num_prompt_tokens_(int(tokens_.size())),
      max_tokens_(max_tokens),
      ignore_eos_(ignore_eos) {
  assert(!tokens_.empty() && max_tokens >= 1);
}

void Sequence::add_computed_tokens(int n) {
  assert(n >= 0 && num_computed_tokens_ + n <= num_tokens());
  num_computed_tokens_ += n;
}

void Sequence::start_running(int num_cached) {
  assert(status_ == SequenceStatus::kWaiting && num_cached < num_tokens());
  status_ = SequenceStatus::kRunning;
  num_computed_tokens_ = num_cached;
  num_cached_tokens_ = std::min(num_cached, num_prompt_tokens_);
}

void Sequence::reset_to_waiting() {
  assert(block_table_.empty());
  status_ = SequenceStatus::kWaiting;
  num_computed_tokens_ = 0;
  num_deferrals_ = 0;
}

}  // namespace ladle::scheduler
