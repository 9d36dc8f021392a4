// Scheduler: continuous batching over the paged KV cache. Decides, step by step, which tokens of
// which sequences are computed, admits waiting requests, preempts by recompute when KV runs out,
// serves interactive requests before batch ones (and, within a class, vLLM's `priority`), and
// applies each step's sampled tokens (update()). It never calls the model: schedule() returns
// plain data and update() takes plain data, so it is unit-tested with fabricated results.
//
// Owner: LlmEngine, which also owns the BlockPool it borrows (the pool must outlive it).
// Thread: the engine thread only; no locking.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "kvcache/block_pool.h"
#include "kvcache/expected.h"
#include "kvcache/ids.h"
#include "scheduler/engine.h"
#include "scheduler/schedule_output.h"
#include "scheduler/sequence.h"
#include "scheduler/step_cost_model.h"

namespace ladle::scheduler {

// llama2.c's BOS and EOS (tokenizer.bin: ids 1 and 2).
inline constexpr TokenId kBosToken = 1;
inline constexpr TokenId kEosToken = 2;

struct SchedulerConfig {
  int max_running = 64;          // sequences holding KV and computing at once
  int max_batched_tokens = 512;  // tokens computed per step (prefill chunks + decodes)
  int max_model_len = 2048;      // positions per sequence
  int block_size = 16;           // tokens per KV block; must equal the pool's
  // Steps a decoding sequence may be passed over in a row so that waiting prompts are admitted
  // first (schedule() states the rule); 0: running sequences always come first.
  int max_decode_deferral = 0;
  // --itl-target-ms, in seconds (0: off). While interactive streams are decoding or batch work is
  // there, a step holds at most the tokens the learned StepCostModel says fit in this time (never
  // fewer than one per stream plus the batch floor).
  double itl_target_s = 0;
  // The batch floor: the share of each step's tokens kept for batch work while there is any (at
  // least one token), and one running slot that interactive admissions leave to batch work. 0: no
  // floor (batch work then waits for capacity interactive requests leave idle, which under
  // sustained interactive load may be never). The tokens yield to interactive work that needs the
  // whole step for up to max_decode_deferral steps in a row (schedule() states the rule).
  double batch_floor_share = 1.0 / 16;
  // --batch-step-share: while interactive requests run or wait, a step's batch tokens are cut so
  // that the step is predicted (StepCostModel) to take at most (1 + share) × the time of its
  // interactive tokens alone; never below the floor. 0: batch work gets only the floor then;
  // negative: off (batch work fills what interactive work leaves).
  double batch_step_share = 0.2;
  // Token ids that end a generation unless ignore_eos: the model's end-of-generation set (EOS and
  // end-of-turn tokens such as <|eot_id|>, <|im_end|>); the default is llama2.c's, whose run.c
  // stops on BOS too. Few: a linear search.
  std::vector<TokenId> stop_tokens = {kBosToken, kEosToken};
};

class Scheduler {
 public:
  Scheduler(SchedulerConfig config, kvcache::BlockPool& pool);

  // New request in the waiting queue, after every waiting request of a better rank (its class,
  // then `priority` lower first, then arrival: SequenceRank). `prompt` non-empty; max_tokens >= 1;
  // `id` new. The engine has already checked that the prompt fits the context and the pool. With
  // `skip_prefix_cache` every admission (the first, and any after a preemption) computes the whole
  // prompt rather than reading cached blocks, as vLLM does for requests with prompt logprobs; the
  // blocks it fills are still cached for others.
  void add(RequestId id, std::vector<TokenId> prompt, int max_tokens, bool ignore_eos, bool skip_prefix_cache = false,
           RequestClass request_class = RequestClass::kInteractive, int priority = 0);

  // Removes a request in any state (waiting, prefilling, decoding, preempted) and frees its blocks
  // now. False if unknown (or already finished).
  bool abort(RequestId id);

  // Plans one step (the rule is stated at the top of its definition). Sequences' counters are not
  // advanced until update(); call update() with this output before the next schedule().
  ScheduleOutput schedule();

  // Applies one step's results: `sampled[i]` is the token for the i-th entry of out.seqs with
  // samples == true. Advances computed counts, appends sampled tokens, registers newly full blocks
  // in the prefix cache, and finishes sequences on a stop token (config().stop_tokens) unless ignore_eos (stop; the token is
  // appended and counts as generated), max_tokens generated (length), or the context limit
  // (length). The context limit is min(max_model_len, the pool's capacity in tokens), so a lone
  // sequence always fits. Finished sequences leave running and free their blocks before returning.
  // Entries for requests aborted since schedule() are skipped.
  UpdateOutput update(const ScheduleOutput& out, std::span<const TokenId> sampled);

  // Finishes a running or waiting request for a reason found outside (a stop string) and frees its
  // blocks. False if unknown.
  bool finish(RequestId id);

  // The live sequence, or nullptr if unknown or finished. Valid until the next mutating call.
  const Sequence* find(RequestId id) const;

  int num_running() const { return int(running_.size()); }
  int num_waiting() const { return int(waiting_.size()); }
  // Of those, batch-class sequences.
  int num_batch_running() const { return num_batch_running_; }
  int num_batch_waiting() const { return num_batch_waiting_; }
  // The learned cost of a step (--itl-target-ms, --batch-step-share). The engine feeds it each
  // step's tokens, sampled rows and duration; tests feed it fabricated ones.
  StepCostModel& cost_model() { return cost_model_; }
  const StepCostModel& cost_model() const { return cost_model_; }
  // The tokens the next schedule() may compute at most: max_batched_tokens, or less with an ITL
  // target while interactive streams decode.
  int step_budget() const;
  std::uint64_t num_preemptions() const { return num_preemptions_; }
  // Positions a sequence may reach: min(max_model_len, pool capacity in tokens).
  int max_sequence_len() const { return max_len_; }
  const SchedulerConfig& config() const { return config_; }
  // Whether `token` is one of config().stop_tokens.
  bool is_stop_token(TokenId token) const {
    return std::find(config_.stop_tokens.begin(), config_.stop_tokens.end(), token) != config_.stop_tokens.end();
  }
  const kvcache::BlockPool& pool() const { return pool_; }
  // Running ids in rank order (the order steps serve them), waiting ids front to back (tests).
  std::vector<RequestId> running_ids() const;
  std::vector<RequestId> waiting_ids() const;

  // O(blocks) consistency check run (as an assert) after every schedule(): pool invariants, every
  // pool reference accounted for by a live block table, waiting sequences hold no blocks, running
  // tables cover their computed tokens, max_running respected, both queues in rank order.
  Status check_invariants() const;

 private:
  // Running sequences of one class in rank order; with `deferred` given, decodes that may still
  // wait are appended to it instead of scheduled.
  void schedule_running(ScheduleOutput& out, int& budget, std::vector<Sequence*>* deferred, bool batch);
  // Waiting sequences of one class in rank order, leaving `reserve` blocks free. Interactive ones
  // preempt running batch sequences for a slot or KV (batch_victim()); batch ones only take what
  // is free, and only while no interactive request waits, except for the floor's one slot.
  void admit_waiting(ScheduleOutput& out, int& budget, int reserve, bool batch);
  // Tokens of a step of `total` kept for batch work (the floor), 0 when there is none.
  int batch_floor(int total) const;
  // The most batch tokens a step holding the interactive work of `out` may add under
  // batch_step_share, costed row by row in the order the batch sequences would be scheduled
  // (INT_MAX when the share is off, no interactive request runs or waits, or all batch work fits;
  // 0 until the cost model is fitted).
  int batch_share_cap(const ScheduleOutput& out) const;
  // Preempts the worst running batch sequence for an interactive admission, sparing the floor's
  // one; false if there is none to preempt.
  bool preempt_batch_for(ScheduleOutput& out);
  // Slots an interactive admission may fill: max_running, less the floor's slot while batch work
  // waits and none runs.
  int interactive_slots() const;
  bool floor_on() const { return config_.batch_floor_share > 0; }
  // The deferred decodes, in order, with what budget and KV are left (no preemption); the rest
  // count one more deferral.
  void schedule_deferred(ScheduleOutput& out, int& budget, const std::vector<Sequence*>& deferred);
  // Only one token is missing and the prompt is computed: its next step is a decode.
  bool is_decoding(const Sequence& seq) const {
    return seq.num_tokens() - seq.num_computed_tokens() == 1 && seq.num_computed_tokens() >= seq.num_prompt_tokens();
  }
  // Makes seq's table cover num_computed + n tokens, preempting from the back of running_ (the
  // worst rank: batch before interactive) until it does. False when seq itself had to be preempted.
  bool reserve_or_preempt(Sequence& seq, int n, ScheduleOutput& out);
  // Grows seq's table to cover num_computed + n tokens; false (nothing changed) if KV is short.
  bool grow(Sequence& seq, int n);
  void preempt(Sequence& seq);
  // Queue moves that keep rank order and the batch counts.
  void insert_waiting(Sequence& seq);
  void insert_running(Sequence& seq);
  void record(ScheduleOutput& out, const Sequence& seq, int n) const;
  std::optional<FinishReason> check_stop(const Sequence& seq, TokenId token) const;
  bool remove(RequestId id);
  int blocks_for(int num_tokens) const { return (num_tokens + config_.block_size - 1) / config_.block_size; }

  SchedulerConfig config_;
  kvcache::BlockPool& pool_;
  int max_len_;
  std::unordered_map<RequestId, std::unique_ptr<Sequence>> seqs_;  // every live sequence
  std::deque<Sequence*> waiting_;  // rank order: interactive first, by priority, then arrival
  std::vector<Sequence*> running_; // rank order too; the back (worst rank) is preempted first
  std::uint64_t num_preemptions_ = 0;
  std::uint64_t num_added_ = 0;    // arrival numbers
  int num_batch_running_ = 0, num_batch_waiting_ = 0;
  int floor_yields_ = 0;           // steps in a row whose batch floor went to interactive work
  StepCostModel cost_model_;
};

}  // namespace ladle::scheduler
