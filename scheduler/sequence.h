// Sequence: one request's state inside the scheduler — its tokens (prompt then generated), how
// many of them have K/V computed, its block table and its limits.
//
// Owner: Scheduler (the only writer). Thread: the engine thread. Others read it through
// Scheduler::find() between steps (the batch builder, the engine's detokenizer).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kvcache/ids.h"
#include "scheduler/engine.h"

namespace ladle::scheduler {

enum class SequenceStatus { kWaiting, kRunning };

// Where a sequence stands in the queues: its class, then vLLM's priority (lower first), then its
// arrival number (the scheduler's count of add() calls). The scheduler keeps both queues in this
// order (scheduler.h states what it means for admission and preemption).
struct SequenceRank {
  RequestClass request_class = RequestClass::kInteractive;
  int priority = 0;
  std::uint64_t arrival = 0;
  friend bool operator<(const SequenceRank& a, const SequenceRank& b) {
    if (a.request_class != b.request_class) return a.request_class == RequestClass::kInteractive;
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.arrival < b.arrival;
  }
};

class Sequence {
 public:
  // A waiting sequence holding `prompt` (non-empty), allowed `max_tokens` (>= 1) new tokens.
  Sequence(RequestId id, std::vector<TokenId> prompt, int max_tokens, bool ignore_eos, SequenceRank rank = {});

  RequestId id() const { return id_; }
  const SequenceRank& rank() const { return rank_; }
  bool is_batch() const { return rank_.request_class == RequestClass::kBatch; }
  std::span<const TokenId> tokens() const { return tokens_; }
  std::span<const TokenId> generated_tokens() const {
    return std::span<const TokenId>(tokens_).subspan(std::size_t(num_prompt_tokens_));
  }
  TokenId last_token() const { return tokens_.back(); }
  int num_tokens() const { return int(tokens_.size()); }
  int num_prompt_tokens() const { return num_prompt_tokens_; }
  int num_generated_tokens() const { return num_tokens() - num_prompt_tokens_; }
  // Tokens whose K/V is in the block table's blocks (positions [0, num_computed_tokens)).
  int num_computed_tokens() const { return num_computed_tokens_; }
  // Prompt tokens served by the prefix cache at the latest admission.
  int num_cached_tokens() const { return num_cached_tokens_; }
  int max_tokens() const { return max_tokens_; }
  bool ignore_eos() const { return ignore_eos_; }
  // Admission computes every prompt token instead of reading cached prefix blocks (the engine needs
  // the logits of every prompt position: prompt log-probabilities).
  bool skips_prefix_cache() const { return skips_prefix_cache_; }
  SequenceStatus status() const { return status_; }
  const BlockTable& block_table() const { return block_table_; }
  // Steps in a row this decoding sequence was passed over for waiting prompts (Scheduler).
  int num_deferrals() const { return num_deferrals_; }

  // Mutators, called by Scheduler only.
  BlockTable& mutable_block_table() { return block_table_; }
  void append_token(TokenId token) { tokens_.push_back(token); }
  void add_computed_tokens(int n);
  // Admission: status running, with `num_cached` tokens served by the prefix cache as computed.
  void start_running(int num_cached);
  // Preemption by recompute: back to waiting with nothing computed; the caller freed the blocks.
  void reset_to_waiting();
  void set_deferrals(int n) { num_deferrals_ = n; }
  void set_skips_prefix_cache(bool skip) { skips_prefix_cache_ = skip; }

 private:
  RequestId id_;
  SequenceRank rank_;
  std::vector<TokenId> tokens_;  // prompt, then generated tokens
  int num_prompt_tokens_;
  int num_computed_tokens_ = 0;
  int num_cached_tokens_ = 0;
  int num_deferrals_ = 0;
  int max_tokens_;
  bool ignore_eos_;
  bool skips_prefix_cache_ = false;
  SequenceStatus status_ = SequenceStatus::kWaiting;
  BlockTable block_table_;
};

}  // namespace ladle::scheduler
