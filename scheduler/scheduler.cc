#include "scheduler/scheduler.h"

#include <algorithm>
#include <cassert>
#include <limits>
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
                    bool skip_prefix_cache, RequestClass request_class, int priority) {
  auto seq = std::make_unique<Sequence>(id, std::move(prompt), max_tokens, ignore_eos,
                                        SequenceRank{request_class, priority, num_added_++});
  seq->set_skips_prefix_cache(skip_prefix_cache);
  insert_waiting(*seq);
  const bool inserted = seqs_.emplace(id, std::move(seq)).second;
  assert(inserted && "request ids must be unique");
  (void)inserted;
}

// THE RULE. Every sequence's num_computed_tokens catches up with its num_tokens, at most
// step_budget() tokens per step over all sequences and at most max_running sequences holding KV.
// Both queues are kept in rank order (SequenceRank): interactive before batch, then `priority`
// lower first, then arrival. A step serves the interactive class, then the batch class:
//   1. Running sequences of the class first, in rank order: each gets min(its missing tokens,
//      budget left) — one token when decoding, the next chunk of a long prompt while prefilling.
//      If its KV cannot grow, the worst-ranked running sequence is preempted (recompute), until it
//      can or until it is itself the one preempted. The worst rank is a batch sequence while any
//      runs, so interactive sequences take KV from batch ones first, and a batch sequence, whose
//      victims all rank below it, never preempts an interactive one.
//   2. Then, unless something was preempted this step, waiting sequences of the class in rank
//      order while budget, slots and KV allow. Full blocks found in the prefix cache count as
//      computed (all tokens but the last are looked up, so the last one always produces logits);
//      the rest is scheduled like any other prefill, chunked by the budget. An interactive
//      admission short of a slot or of KV preempts running batch sequences (worst first); a batch
//      admission only takes what is free, and not while an interactive request waits.
//   3. Deferral (interactive class, max_decode_deferral > 0): while prompts wait and a slot is
//      free for them (or can be taken from a batch sequence), step 1 passes over each decoding sequence that has been passed over
//      fewer than max_decode_deferral steps in a row; step 2 admits prompts ahead of them, leaving
//      free the blocks their next tokens need; then they are scheduled in order with what budget
//      is left (growing KV without preempting). The others count one more deferral. Chunks of
//      prompts already running are never passed over, so only a prompt's first chunk goes ahead of
//      the decodes.
//   4. The batch floor (batch_floor_share > 0, while batch work exists): the interactive class
//      gets the step's budget less batch_floor() tokens; the batch class gets the floor plus what
//      the interactive class left, cut to batch_share_cap() while interactive requests run or
//      wait (never below the floor). Interactive admissions leave one slot to batch work while none
//      runs, and never preempt the best-ranked running batch sequence, so one batch sequence
//      always progresses (only a running interactive sequence short of KV may still preempt it).
//      The floor yields to interactive work that needs the whole step (a burst of prompts), at
//      most max_decode_deferral steps in a row: in those the interactive class gets the whole
//      budget and the batch what it leaves (cut as above); after them the floor is reserved again.
// A chunk that reaches a sequence's last token samples. Prefill chunks, decodes and prefix hits
// are the same code path: only the number of missing tokens differs.
// NOTE(scheduler): why the floor yields to a burst. On the 110M shape (128-token steps, floor 8
// tokens) 8 interactive prompts of 32 tokens need 256 tokens: with the floor taken first they got
// 120 + 120 + 16 tokens in 3 steps (8 batch decodes in each), alone 2 steps of 128; the third step
// (48 ms of 129 + 129 + 48, quiet Zen 4) was the burst's last TTFT's excess besides the batch step
// in flight when it arrived (BENCHMARKS.md, issue 19). The bound is max_decode_deferral, the steps
// a stream's own decode may be passed over for waiting prompts: a batch sequence waits no longer
// than an interactive stream would, and under sustained load still gets its floor once in every
// max_decode_deferral + 1 steps.
// NOTE(scheduler): a budget-starved batch sequence keeps its KV and waits for budget (not
// preempted: recomputing it later would only add work); it is preempted when an interactive
// sequence needs its slot or its blocks.
// NOTE(scheduler): priority within a class follows vLLM's priority policy (v1 scheduler): under KV
// pressure the victim is the running request with the largest (priority, arrival); a waiting
// request never preempts a running one of its own class (vLLM v1 has no forced preemption on
// admission either). Serving running sequences in rank order makes every victim one not yet
// scheduled this step.
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
  const int total = step_budget();
  const int floor = batch_floor(total);
  // The floor yields to interactive work that needs the whole step, max_decode_deferral steps in a row.
  const bool floor_yields = floor > 0 && floor_yields_ < config_.max_decode_deferral;
  int budget = total - (floor_yields ? 0 : floor);
  const int num_interactive_waiting = num_waiting() - num_batch_waiting_;
  // A slot for a waiting prompt: a free one, or one a running batch sequence can be preempted from.
  const bool seat = num_running() < interactive_slots() || num_batch_running_ > (floor_on() ? 1 : 0);
  const bool backlog = config_.max_decode_deferral > 0 && num_interactive_waiting > 0 && seat;
  std::vector<Sequence*> deferred;
  schedule_running(out, budget, backlog ? &deferred : nullptr, /*batch=*/false);
  if (out.preempted.empty()) {
    int reserve = 0;  // blocks the deferred decodes' next tokens need
    for (const Sequence* seq : deferred)
      reserve += std::max(0, blocks_for(seq->num_computed_tokens() + 1) - int(seq->block_table().size()));
    admit_waiting(out, budget, reserve, /*batch=*/false);
  }
  schedule_deferred(out, budget, deferred);
  floor_yields_ = floor_yields && budget < floor ? floor_yields_ + 1 : 0;
  budget = std::min(budget + (floor_yields ? 0 : floor), std::max(floor, batch_share_cap(out)));
  schedule_running(out, budget, nullptr, /*batch=*/true);
  if (out.preempted.empty()) admit_waiting(out, budget, 0, /*batch=*/true);
  assert(check_invariants().ok());
  return out;
}

// NOTE(scheduler): the ITL target. A step's duration is what every stream in it waits for its
// next token, and it grows with the tokens the step computes (measured: StepCostModel), so while
// interactive streams decode the budget is cut to what fits in the target. So is every step that
// holds batch work: a person who arrives meanwhile waits for the step in flight before their
// prompt runs, and a full-budget batch prefill step would add its whole length to their TTFT
// (measured on 15M, loaded: TTFT p99 7.7x alone with batch steps uncapped). Steps of interactive
// prompts alone run the full budget. When even one token per stream exceeds the target (a
// loaded machine: the margin for scatter eats the room), the budget is still one token per
// stream, one block's chunk of an interactive prompt if one is pending (so its TTFT does not
// grow by a step per token: measured on 15M, loaded, TTFT p99 1 s instead of 0.2 s), and one for
// the batch floor when it applies.
int Scheduler::step_budget() const {
  const int most = config_.max_batched_tokens;
  if (config_.itl_target_s <= 0) return most;
  int streams = 0;  // interactive sequences whose client has seen a token
  bool prompt_pending = num_waiting() > num_batch_waiting_;  // an interactive prompt waits or runs
  for (const Sequence* seq : running_) {
    if (seq->is_batch()) continue;
    if (seq->num_generated_tokens() > 0) ++streams;
    else prompt_pending = true;
  }
  if (streams == 0 && num_batch_running_ + num_batch_waiting_ == 0) return most;
  const int floor_row = floor_on() && num_batch_running_ + num_batch_waiting_ > 0 ? 1 : 0;
  // Sampled rows of such a step: one per stream, the prompt's last chunk, the floor's sequence.
  const auto fit = cost_model_.tokens_within(config_.itl_target_s, streams + (prompt_pending ? 1 : 0) + floor_row);
  if (!fit) return most;
  const int least = streams + (prompt_pending ? config_.block_size : 1) + floor_row;
  return std::clamp(*fit, std::min(most, least), most);
}

// NOTE(scheduler): the batch step share (--batch-step-share F, default 0.2). On a CPU a step's
// time grows with its rows (StepCostModel: fixed + per_token × tokens + per_sampled_row × sampled
// rows), so batch rows beside interactive ones lengthen every stream's ITL and every prompt's TTFT:
// measured on 15M (loaded), a batch filling the free slots made interactive ITL p99 7.2× and TTFT
// p99 3.7× alone (BENCHMARKS.md, issue 19). So while any interactive request runs or waits, the
// batch work of a step holding interactive work of cost C_I (its tokens and sampled rows, by the
// fit) may cost at most F × C_I more: the streams' steps are at most F longer than without the
// batch, whatever the model and machine (a relative budget; --itl-target-ms, an absolute one,
// still caps the whole step: the smaller wins). The batch sequences are costed one by one in the
// order the step would take them (running ones, then waiting prompts): a decode costs a token and
// a sampled row, a prompt chunk its tokens and, if it ends the prompt, a row; a chunk that does
// not fit whole is cut to the tokens that do (with no row). The token count reached is the batch
// class's budget. The margin for scatter is left out: it shifts both sides alike. Until the fit is
// ready (StepCostModel::kMinSteps steps) batch work gets only the floor; with no interactive
// request running or waiting it gets the whole budget. The default 0.2 is the goal
// (interactive ITL ≤ 1.2× alone). Its price: beside interactive streams the batch runs a few rows
// a step (F × C_I / (per_token + per_sampled_row) decodes) instead of every free slot, so total
// throughput while people are served is below the engine's best. With one slope for tokens and
// rows (before the row term), measured on 15M, loaded, ten rounds: interactive ITL p99 with a
// 2,000-line batch 4.2-7.3× alone with the share off in eight, 0.81-1.57× with F = 0.2 in six
// (3.6-7.3× in four: the one slope underestimated a decode row's cost in a small step); the
// throughput loss was under the noise (BENCHMARKS.md). With the row term, a floor of 2 tokens
// so that F acts alone, five alternated rounds (loaded): 0.74-1.37× against 0.96-3.68× with one
// slope, batch output lower (median 0.35 of best against 0.49). F = 0 leaves the batch only the
// floor then; a negative F turns the limit off. The floor (--batch-floor-share) is granted on top
// of the share, so beside a few streams it, not F, can decide the batch's rows (the default 1/16
// of a 256-token step is 16 decode rows on 15M: F changed nothing there in the same rounds).
int Scheduler::batch_share_cap(const ScheduleOutput& out) const {
  constexpr int kNoCap = std::numeric_limits<int>::max();
  const bool interactive_work = num_running() > num_batch_running_ || num_waiting() > num_batch_waiting_;
  if (config_.batch_step_share < 0 || !interactive_work) return kNoCap;
  const auto base = cost_model_.predict(out.num_batched_tokens, out.num_sampled_rows);
  const double per_token = cost_model_.seconds_per_token(), per_row = cost_model_.seconds_per_sampled_row();
  if (!base || !(per_token > 0)) return 0;
  double left = config_.batch_step_share * *base;  // seconds the batch work may add
  int tokens = 0;
  // Whole remaining work `n` of a sequence (ending in a sampled row) if it fits, else the tokens that
  // do without the row; false once the step is full.
  auto take = [&](int n) {
    const double whole = per_token * n + per_row;
    if (whole <= left) {
      tokens += n;
      left -= whole;
      return tokens < config_.max_batched_tokens;
    }
    tokens += std::clamp(int(left / per_token), 0, n - 1);
    return false;
  };
  for (std::size_t i = std::size_t(num_running() - num_batch_running_); i < running_.size(); ++i)
    if (!take(running_[i]->num_tokens() - running_[i]->num_computed_tokens())) return tokens;
  for (std::size_t i = std::size_t(num_waiting() - num_batch_waiting_); i < waiting_.size(); ++i)
    if (!take(waiting_[i]->num_tokens())) return tokens;
  return kNoCap;  // all batch work fits
}

int Scheduler::batch_floor(int total) const {
  if (!floor_on() || num_batch_running_ + num_batch_waiting_ == 0 || total < 2) return 0;
  return std::clamp(int(total * config_.batch_floor_share), 1, total - 1);
}

int Scheduler::interactive_slots() const {
  const bool keep_slot = floor_on() && num_batch_waiting_ > 0 && num_batch_running_ == 0;
  return config_.max_running - (keep_slot ? 1 : 0);
}

void Scheduler::schedule_running(ScheduleOutput& out, int& budget, std::vector<Sequence*>* deferred, bool batch) {
  // Preemption pops from the back, so sequences after index i are the only victims besides seq
  // (deferred ones, before i, stay running).
  std::size_t i = batch ? std::size_t(num_running() - num_batch_running_) : 0;
  for (; i < running_.size() && running_[i]->is_batch() == batch && budget > 0; ++i) {
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

void Scheduler::admit_waiting(ScheduleOutput& out, int& budget, int reserve, bool batch) {
  const int num_interactive_waiting = num_waiting() - num_batch_waiting_;
  if (batch && num_interactive_waiting > 0 && !(floor_on() && num_batch_running_ == 0)) return;
  while (budget > 0 && num_waiting() > 0) {
    const auto it = batch ? waiting_.begin() + (num_waiting() - num_batch_waiting_) : waiting_.begin();
    if (it == waiting_.end() || (*it)->is_batch() != batch) break;
    Sequence& seq = **it;
    BlockTable cached;
    if (!seq.skips_prefix_cache()) cached = pool_.find_cached_prefix(seq.tokens().first(std::size_t(seq.num_tokens() - 1)));
    const int num_cached = int(cached.size()) * config_.block_size;
    const int n = std::min(seq.num_tokens() - num_cached, budget);
    const int num_new_blocks = blocks_for(num_cached + n) - int(cached.size());
    const int slots = batch ? config_.max_running : interactive_slots();
    bool fits = false;
    while (!(fits = num_running() < slots && pool_.can_allocate(cached, num_new_blocks + reserve)))
      if (batch || !preempt_batch_for(out)) break;
    if (!fits) break;
    pool_.touch(cached);
    auto fresh = pool_.allocate(num_new_blocks);
    assert(fresh);
    cached.insert(cached.end(), fresh->begin(), fresh->end());
    seq.mutable_block_table() = std::move(cached);
    if (pool_.prefix_caching() && !seq.skips_prefix_cache()) pool_.record_prefix_query(seq.num_tokens(), num_cached);
    seq.start_running(num_cached);
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &seq));  // preemptions moved `it`
    if (batch) --num_batch_waiting_;
    insert_running(seq);
    record(out, seq, n);
    budget -= n;
    // The floor's one batch admission beside waiting interactive requests.
    if (batch && num_interactive_waiting > 0) break;
  }
}

bool Scheduler::preempt_batch_for(ScheduleOutput& out) {
  if (running_.empty() || !running_.back()->is_batch()) return false;
  if (floor_on() && num_batch_running_ <= 1) return false;  // the floor's sequence
  Sequence& victim = *running_.back();
  running_.pop_back();
  preempt(victim);
  out.preempted.push_back(victim.id());
  return true;
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
// resuming is mostly hits) and the sequence waits by its rank, ahead of later arrivals of its
// class and priority. The caller took it out of running_.
void Scheduler::preempt(Sequence& seq) {
  if (seq.is_batch()) --num_batch_running_;
  pool_.free(seq.mutable_block_table());
  seq.reset_to_waiting();
  insert_waiting(seq);
  ++num_preemptions_;
}

void Scheduler::insert_waiting(Sequence& seq) {
  const auto by_rank = [](const Sequence* a, const Sequence* b) { return a->rank() < b->rank(); };
  waiting_.insert(std::upper_bound(waiting_.begin(), waiting_.end(), &seq, by_rank), &seq);
  if (seq.is_batch()) ++num_batch_waiting_;
}

void Scheduler::insert_running(Sequence& seq) {
  const auto by_rank = [](const Sequence* a, const Sequence* b) { return a->rank() < b->rank(); };
  running_.insert(std::upper_bound(running_.begin(), running_.end(), &seq, by_rank), &seq);
  if (seq.is_batch()) ++num_batch_running_;
}

void Scheduler::record(ScheduleOutput& out, const Sequence& seq, int n) const {
  const int before = seq.num_computed_tokens();
  const bool samples = before + n == seq.num_tokens();
  out.seqs.push_back(ScheduledSequence{seq.id(), n, before, samples});
  out.num_batched_tokens += n;
  out.num_sampled_rows += samples ? 1 : 0;
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
  if (!seq.ignore_eos() && is_stop_token(token)) return FinishReason::kStop;
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
    if (seq->is_batch()) --num_batch_running_;
  } else {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), seq));
    if (seq->is_batch()) --num_batch_waiting_;
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
  const auto by_rank = [](const Sequence* a, const Sequence* b) { return a->rank() < b->rank(); };
  if (!std::is_sorted(running_.begin(), running_.end(), by_rank)) return fail("running queue out of rank order");
  if (!std::is_sorted(waiting_.begin(), waiting_.end(), by_rank)) return fail("waiting queue out of rank order");
  const auto batch = [](const Sequence* seq) { return seq->is_batch(); };
  if (std::count_if(running_.begin(), running_.end(), batch) != num_batch_running_ ||
      std::count_if(waiting_.begin(), waiting_.end(), batch) != num_batch_waiting_)
    return fail("batch counts are off");
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
