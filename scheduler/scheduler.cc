#include "scheduler/scheduler.h"

#include <algorithm>
#include <cassert>
#include <string>
#include <utility>

namespace ladle::scheduler {

Scheduler::Scheduler(SchedulerConfig config, kvcache::BlockPool& pool)
    : config_(config),
      pool_(pool),
      max_len_(std::min(config.max_model_len, pool.num_blocks() * pool.block_size())) {
  assert(config_.block_size == pool_.block_size());
  assert(config_.max_running >= 1 && config_.max_batched_tokens >= 1);
}

void Scheduler::add(RequestId id, std::vector<TokenId> prompt, int max_tokens, bool ignore_eos,
                    bool skip_prefix_cache) {
  auto seq = std::make_unique<Sequence>(id, std::move(prompt), max_tokens, ignore_eos);
  seq->set_skips_prefix_cache(skip_prefix_cache);
  waiting_.push_back(seq.get());
  const bool inserted = seqs_.emplace(id, std::move(seq)).second;
  assert(inserted && "request ids must be unique");
  (void)inserted;
}

// THE RULE. Every sequence's num_computed_tokens catches up with its num_tokens, at most
// max_batched_tokens per step over all sequences and at most max_running sequences holding KV:
//   1. Running sequences first, in admission order: each gets min(its missing tokens, budget left)
//      — one token when decoding, the next chunk of a long prompt while prefilling. If its KV
//      cannot grow, the most recently admitted running sequence is preempted (recompute), until
//      it can or until it is itself the one preempted.
//   2. Then, unless something was preempted this step, waiting sequences in queue order while
//      budget, max_running and KV allow. Full blocks found in the prefix cache count as computed
//      (all tokens but the last are looked up, so the last one always produces logits); the rest
//      is scheduled like any other prefill, chunked by the budget.
//   3. Deferral (max_decode_deferral > 0): while prompts wait and max_running leaves room for
//      them, step 1 passes over each decoding sequence that has been passed over fewer than
//      max_decode_deferral steps in a row; step 2 admits prompts ahead of them, leaving free the
//      blocks their next tokens need; then they are scheduled in order with what budget is left
//      (growing KV without preempting). The others count one more deferral. Chunks of prompts
//      already running are never passed over, so only a prompt's first chunk goes ahead of the
//      decodes.
// A chunk that reaches a sequence's last token samples. Prefill chunks, decodes and prefix hits
// are the same code path: only the number of missing tokens differs.
// NOTE(scheduler): why defer. A burst of prompts (every client of a closed loop sends at t = 0)
// waits on the decodes that run beside it: with decodes first, the burst's last prompt also waits
// for every decode step of the prompts admitted before it (on the 110M shape at 64 clients, ~800
// decode rows beside 2,144 prompt tokens). Deferring them lets the burst through at prefill speed.
// The cost is a longer gap, at most max_decode_deferral + 1 steps, in the streams that started
// during the burst, once; llama.cpp's server (one batch for the whole burst) and vLLM's V0
// scheduler (prefill first) stall running streams for a burst's whole prefill, uncapped. The
// engine's default, 16, covers a 64-prompt burst on the 110M shape: measured beside 8 and 0 in
// BENCHMARKS.md ("Bursts: decode deferral"), it lowered TTFT p99 by 8-16 % at 32 clients and
// 15-35 % at 64, and ITL p99 in 7 of 8 pairs; 8 (a forced decode every 9 steps: more long gaps)
// raised ITL p99 at 64.
ScheduleOutput Scheduler::schedule() {
  ScheduleOutput out;
  int budget = config_.max_batched_tokens;
  const bool backlog = config_.max_decode_deferral > 0 && !waiting_.empty() && num_running() < config_.max_running;
  std::vector<Sequence*> deferred;
  schedule_running(out, budget, backlog ? &deferred : nullptr);
  if (out.preempted.empty()) {
    int reserve = 0;  // blocks the deferred decodes' next tokens need
    for (const Sequence* seq : deferred)
      reserve += std::max(0, blocks_for(seq->num_computed_tokens() + 1) - int(seq->block_table().size()));
    admit_waiting(out, budget, reserve);
  }
  schedule_deferred(out, budget, deferred);
  assert(check_invariants().ok());
  return out;
}

void Scheduler::schedule_running(ScheduleOutput& out, int& budget, std::vector<Sequence*>* deferred) {
  // Preemption pops from the back, so sequences after index i are the only victims besides seq
  // (deferred ones, before i, stay running).
  for (std::size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Sequence& seq = *running_[i];
    const bool decoding = is_decoding(seq);
    if (deferred != nullptr && decoding && seq.num_deferrals() < config_.max_decode_deferral) {
      deferred->push_back(&seq);
      continue;
    }
    const int n = std::min(seq.num_tokens() - seq.num_computed_tokens(), budget);
    assert(n > 0);
    if (!reserve_or_preempt(seq, n, out)) break;
    record(out, seq, n);
    if (decoding) seq.set_deferrals(0);
    budget -= n;
  }
}

void Scheduler::admit_waiting(ScheduleOutput& out, int& budget, int reserve) {
  while (budget > 0 && !waiting_.empty() && num_running() < config_.max_running) {
    Sequence& seq = *waiting_.front();
    BlockTable cached;
    if (!seq.skips_prefix_cache()) cached = pool_.find_cached_prefix(seq.tokens().first(std::size_t(seq.num_tokens() - 1)));
    const int num_cached = int(cached.size()) * config_.block_size;
    const int n = std::min(seq.num_tokens() - num_cached, budget);
    const int num_new_blocks = blocks_for(num_cached + n) - int(cached.size());
    if (!pool_.can_allocate(cached, num_new_blocks + reserve)) break;
    pool_.touch(cached);
    auto fresh = pool_.allocate(num_new_blocks);
    assert(fresh);
    cached.insert(cached.end(), fresh->begin(), fresh->end());
    seq.mutable_block_table() = std::move(cached);
    if (pool_.prefix_caching() && !seq.skips_prefix_cache()) pool_.record_prefix_query(seq.num_tokens(), num_cached);
    seq.start_running(num_cached);
    waiting_.pop_front();
    running_.push_back(&seq);
    record(out, seq, n);
    budget -= n;
  }
}

void Scheduler::schedule_deferred(ScheduleOutput& out, int& budget, const std::vector<Sequence*>& deferred) {
  for (Sequence* seq : deferred) {
    if (budget > 0 && grow(*seq, 1)) {
      record(out, *seq, 1);
      seq->set_deferrals(0);
      --budget;
    } else {
      seq->set_deferrals(seq->num_deferrals() + 1);
    }
  }
}

bool Scheduler::reserve_or_preempt(Sequence& seq, int n, ScheduleOutput& out) {
  while (!grow(seq, n)) {
    Sequence& victim = *running_.back();
    running_.pop_back();
    preempt(victim);
    out.preempted.push_back(victim.id());
    if (&victim == &seq) return false;
  }
  return true;
}

bool Scheduler::grow(Sequence& seq, int n) {
  BlockTable& table = seq.mutable_block_table();
  const int missing = blocks_for(seq.num_computed_tokens() + n) - int(table.size());
  if (missing <= 0) return true;
  auto fresh = pool_.allocate(missing);
  if (!fresh) return false;
  table.insert(table.end(), fresh->begin(), fresh->end());
  return true;
}

// Recompute preemption: the blocks go back to the pool (full ones stay in the prefix cache, so
// resuming is mostly hits) and the sequence waits at the front, ahead of new arrivals.
void Scheduler::preempt(Sequence& seq) {
  pool_.free(seq.mutable_block_table());
  seq.reset_to_waiting();
  waiting_.push_front(&seq);
  ++num_preemptions_;
}

void Scheduler::record(ScheduleOutput& out, const Sequence& seq, int n) const {
  const int before = seq.num_computed_tokens();
  const bool samples = before + n == seq.num_tokens();
  out.seqs.push_back(ScheduledSequence{seq.id(), n, before, samples});
  out.num_batched_tokens += n;
  const bool decode = n == 1 && is_decoding(seq);
  (decode ? out.num_decode_tokens : out.num_prefill_tokens) += n;
}

UpdateOutput Scheduler::update(const ScheduleOutput& out, std::span<const TokenId> sampled) {
  UpdateOutput result;
  std::size_t next_sample = 0;
  for (const ScheduledSequence& s : out.seqs) {
    const auto it = seqs_.find(s.id);
    const TokenId token = s.samples ? sampled[next_sample++] : TokenId{0};
    if (it == seqs_.end()) continue;  // aborted since schedule()
    Sequence& seq = *it->second;
    assert(seq.status() == SequenceStatus::kRunning && seq.num_computed_tokens() == s.num_computed_before);
    seq.add_computed_tokens(s.num_new_tokens);
    const int num_full_blocks = seq.num_computed_tokens() / config_.block_size;
    // Most decode steps fill no block: skip the pool (and its cache misses) then.
    if (num_full_blocks > s.num_computed_before / config_.block_size) {
      pool_.cache_full_blocks(seq.tokens(), seq.block_table(), num_full_blocks);
    }
    if (!s.samples) continue;
    seq.append_token(token);
    result.appended.emplace_back(s.id, token);
    if (const auto reason = check_stop(seq, token)) {
      remove(s.id);
      result.finished.push_back(SequenceFinish{s.id, *reason});
    }
  }
  assert(next_sample == sampled.size());
  return result;
}

std::optional<FinishReason> Scheduler::check_stop(const Sequence& seq, TokenId token) const {
  if (!seq.ignore_eos() && (token == kBosToken || token == kEosToken)) return FinishReason::kStop;
  if (seq.num_generated_tokens() >= seq.max_tokens()) return FinishReason::kLength;
  if (seq.num_tokens() >= max_len_) return FinishReason::kLength;
  return std::nullopt;
}

bool Scheduler::abort(RequestId id) { return remove(id); }

bool Scheduler::finish(RequestId id) { return remove(id); }

bool Scheduler::remove(RequestId id) {
  const auto it = seqs_.find(id);
  if (it == seqs_.end()) return false;
  Sequence* seq = it->second.get();
  if (seq->status() == SequenceStatus::kRunning) {
    running_.erase(std::find(running_.begin(), running_.end(), seq));
  } else {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), seq));
  }
  pool_.free(seq->mutable_block_table());
  seqs_.erase(it);
  return true;
}

const Sequence* Scheduler::find(RequestId id) const {
  const auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : it->second.get();
}

std::vector<RequestId> Scheduler::running_ids() const {
  std::vector<RequestId> ids;
  for (const Sequence* seq : running_) ids.push_back(seq->id());
  return ids;
}

std::vector<RequestId> Scheduler::waiting_ids() const {
  std::vector<RequestId> ids;
  for (const Sequence* seq : waiting_) ids.push_back(seq->id());
  return ids;
}

Status Scheduler::check_invariants() const {
  auto fail = [](std::string what) { return Status(make_error(ErrorCode::kInternal, std::move(what))); };
  if (Status st = pool_.check_invariants(); !st.ok()) return st;
  if (num_running() > config_.max_running) return fail("more running sequences than max_running");
  if (running_.size() + waiting_.size() != seqs_.size()) return fail("a sequence is in no queue or in two");
  std::vector<int> refs(std::size_t(pool_.num_blocks()), 0);
  for (const Sequence* seq : running_) {
    if (seq->status() != SequenceStatus::kRunning) return fail("waiting sequence in running queue");
    if (int(seq->block_table().size()) < blocks_for(seq->num_computed_tokens()))
      return fail("running sequence's table does not cover its computed tokens");
    for (BlockId b : seq->block_table()) ++refs[std::size_t(b)];
  }
  for (const Sequence* seq : waiting_) {
    if (seq->status() != SequenceStatus::kWaiting) return fail("running sequence in waiting queue");
    if (!seq->block_table().empty() || seq->num_computed_tokens() != 0) return fail("waiting sequence holds KV");
  }
  for (BlockId b = 0; b < pool_.num_blocks(); ++b) {
    if (refs[std::size_t(b)] != pool_.ref_count(b)) return fail("block " + std::to_string(b) + " ref count leaked");
  }
  return Ok{};
}

}  // namespace ladle::scheduler
