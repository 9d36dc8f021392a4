// Small builders shared by the kvcache and scheduler tests (the shape of vLLM's
// tests/v1/core/utils.py): pools, token runs, scheduler configs and a driver that feeds
// fabricated sampled tokens to Scheduler::update(). Header-only; test threads only.
#pragma once

#include <cstdint>
#include <map>
#include <numeric>
#include <span>
#include <vector>

#include "kvcache/block_pool.h"
#include "kvcache/ids.h"
#include "model/forward_batch.h"
#include "scheduler/batch_builder.h"
#include "scheduler/scheduler.h"

namespace ladle::testing {

// A pool of `num_blocks` blocks of `block_size` tokens (prefix caching on by default).
inline kvcache::BlockPool make_pool(int num_blocks, int block_size = 4, bool prefix_caching = true) {
  return kvcache::BlockPool(num_blocks, block_size, prefix_caching);
}

// `n` consecutive token ids first, first+1, ... (ids above 2 so they are never BOS/EOS).
inline std::vector<TokenId> make_tokens(int n, TokenId first = 100) {
  std::vector<TokenId> tokens(static_cast<std::size_t>(n));
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

// a followed by b.
inline std::vector<TokenId> concat(std::span<const TokenId> a, std::span<const TokenId> b) {
  std::vector<TokenId> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// A scheduler config with small blocks so tests can name every block.
inline scheduler::SchedulerConfig make_config(int max_batched_tokens = 64, int max_running = 8,
                                              int block_size = 4, int max_model_len = 256) {
  scheduler::SchedulerConfig c;
  c.max_running = max_running;
  c.max_batched_tokens = max_batched_tokens;
  c.max_model_len = max_model_len;
  c.block_size = block_size;
  return c;
}

// A stand-in for the transformer that really goes through the paged KV: forward() writes each
// row's token id into its slot (table[pos / block_size], pos % block_size) of a token-valued "KV
// arena", and for each slice that needs logits "samples" a token that is a hash of the whole
// context read back through the block table. So the sampled stream depends on every position the
// block tables point at: a wrong table, a bad prefix hit or a stale preempted block changes it.
class FakeModel {
 public:
  FakeModel(int num_blocks, int block_size)
      : block_size_(block_size), kv_(std::size_t(num_blocks) * std::size_t(block_size), kUnwritten) {}

  std::vector<TokenId> forward(const model::ForwardBatch& batch) {
    std::vector<TokenId> sampled;
    for (const auto& s : batch.seqs) {
      for (int r = s.query_start; r < s.query_start + s.query_len; ++r) {
        slot(s.block_table, batch.positions[std::size_t(r)]) = batch.token_ids[std::size_t(r)];
      }
      if (!s.needs_logits) continue;
      std::uint64_t h = 1469598103934665603ULL;
      for (int pos = 0; pos < s.context_len; ++pos) {
        const TokenId t = slot(s.block_table, pos);
        num_unwritten_reads_ += t == kUnwritten;
        h = (h ^ std::uint64_t(std::uint32_t(t))) * 1099511628211ULL;
      }
      sampled.push_back(TokenId(3 + h % 997));  // never BOS (1) or EOS (2)
    }
    return sampled;
  }
  // Context reads of slots no forward() ever wrote (must stay 0).
  int num_unwritten_reads() const { return num_unwritten_reads_; }

 private:
  static constexpr TokenId kUnwritten = -1;
  TokenId& slot(const BlockTable& table, int pos) {
    const BlockId b = table[std::size_t(pos / block_size_)];
    return kv_[std::size_t(b) * std::size_t(block_size_) + std::size_t(pos % block_size_)];
  }
  int block_size_;
  std::vector<TokenId> kv_;
  int num_unwritten_reads_ = 0;
};

// One engine step: schedule → build the batch → fake forward/sample → update.
struct Step {
  scheduler::ScheduleOutput out;
  model::ForwardBatch batch;
  scheduler::UpdateOutput update;
};
inline Step run_step(scheduler::Scheduler& s, FakeModel& model) {
  Step step;
  step.out = s.schedule();
  step.batch = scheduler::build_forward_batch(step.out, s);
  const std::vector<TokenId> sampled = model.forward(step.batch);
  step.update = s.update(step.out, sampled);
  return step;
}

// Runs steps until nothing is left (at most max_steps); returns every request's generated tokens.
inline std::map<RequestId, std::vector<TokenId>> run_to_completion(scheduler::Scheduler& s, FakeModel& model,
                                                                   int max_steps = 10000) {
  std::map<RequestId, std::vector<TokenId>> generated;
  for (int i = 0; i < max_steps && (s.num_running() + s.num_waiting()) > 0; ++i) {
    const Step step = run_step(s, model);
    for (const auto& [id, token] : step.update.appended) generated[id].push_back(token);
  }
  return generated;
}

}  // namespace ladle::testing
