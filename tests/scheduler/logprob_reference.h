// Helpers for the LlmEngine log-probability tests (stories260K): a sink that records what the
// engine delivers and in which order, and the reference numbers computed without the engine —
// the model's logits through Transformer::forward one token per step, and a double-precision
// log_softmax with std::exp.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "scheduler/llm_engine.h"

namespace ladle::scheduler::testing_real {

// Collects one request's output with its log-probabilities, and checks the order of calls: every
// delta covers only tokens whose on_logprobs has arrived (`ordered_`, for requests that ask), and
// on_prompt_logprobs comes before any token (`prompt_first_`).
class LogprobSink final : public TokenSink {
 public:
  void on_prompt_logprobs(std::span<const TokenLogprob> lps) override {
    std::lock_guard lock(mu_);
    if (!logprobs_.empty() || covered_ > 0) prompt_first_ = false;
    prompt_logprobs_.assign(lps.begin(), lps.end());
    ++num_prompt_calls_;
  }
  void on_logprobs(const TokenLogprob& lp) override {
    std::lock_guard lock(mu_);
    logprobs_.push_back(lp);
  }
  void on_delta(std::string_view text, int num_tokens) override {
    std::lock_guard lock(mu_);
    text_ += text;
    covered_ += num_tokens;
    if (covered_ > int(logprobs_.size())) ordered_ = false;
  }
  void on_finish(const Finish& f) override {
    std::lock_guard lock(mu_);
    finish_ = f;
    done_ = true;
    cv_.notify_all();
  }
  bool wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return done_; });
  }
  // Read after wait() only.
  std::vector<TokenLogprob> prompt_logprobs_;
  int num_prompt_calls_ = 0;
  bool prompt_first_ = true;
  std::vector<TokenLogprob> logprobs_;
  std::string text_;
  int covered_ = 0;
  bool ordered_ = true;
  Finish finish_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// Submits every request before any can finish; returns their sinks once all have finished.
inline std::vector<std::shared_ptr<LogprobSink>> run_logprobs(LlmEngine& engine,
                                                              const std::vector<GenerationRequest>& reqs) {
  std::vector<std::shared_ptr<LogprobSink>> sinks;
  for (const auto& r : reqs) {
    sinks.push_back(std::make_shared<LogprobSink>());
    EXPECT_TRUE(engine.submit(r, sinks.back()).ok());
  }
  for (auto& s : sinks) EXPECT_TRUE(s->wait());
  return sinks;
}

// The model's logits at positions [0, tokens.size()) of `tokens`, through Transformer::forward
// directly, one token per step (row p predicts token p + 1).
inline std::vector<std::vector<float>> reference_logits(const std::vector<TokenId>& tokens) {
  auto model = model::Transformer::load(std::string(LADLE_MODELS_DIR) + "/stories260K.bin",
                                        model::RuntimeLimits{16, 4, 1});
  EXPECT_TRUE(model.ok());
  if (!model) return {};
  kvcache::KvStore kv((*model)->kv_shape(16), 512 / 16);
  BlockTable table(std::size_t(kv.num_blocks()));
  std::iota(table.begin(), table.end(), 0);
  std::vector<std::vector<float>> rows;
  for (int p = 0; p < int(tokens.size()); ++p) {
    model::ForwardBatch b{{tokens[std::size_t(p)]}, {p}, {{0, 1, p + 1, table, true}}};
    auto logits = (*model)->forward(b, kv);
    rows.emplace_back(logits.begin(), logits.end());
  }
  return rows;
}

// log_softmax of a row in double with std::exp.
inline std::vector<double> reference_log_softmax(const std::vector<float>& l) {
  double m = -INFINITY, s = 0;
  for (float v : l) m = std::max(m, double(v));
  for (float v : l) s += std::exp(double(v) - m);
  std::vector<double> out(l.size());
  for (std::size_t i = 0; i < l.size(); ++i) out[i] = double(l[i]) - m - std::log(s);
  return out;
}

// `lp` against the reference row `logits`: its token's logprob, and `top` — exactly `num_top`
// entries, the largest reference logits in order (ties by lower id), each with its logprob, the
// token's own entry equal to its logprob.
inline void expect_entry_matches(const TokenLogprob& lp, const std::vector<float>& logits, int num_top,
                                 const std::string& what) {
  const auto want = reference_log_softmax(logits);
  EXPECT_NEAR(lp.logprob, want[std::size_t(lp.token)], 1e-4) << what;
  std::vector<TokenId> order(want.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](TokenId a, TokenId b) { return logits[a] > logits[b]; });
  ASSERT_EQ(int(lp.top.size()), num_top) << what;
  for (std::size_t k = 0; k < lp.top.size(); ++k) {
    EXPECT_EQ(lp.top[k].token, order[k]) << what << " rank " << k;
    EXPECT_NEAR(lp.top[k].logprob, want[std::size_t(lp.top[k].token)], 1e-4) << what;
    if (k > 0) {
      EXPECT_GE(lp.top[k - 1].logprob, lp.top[k].logprob) << what;
    }
    if (lp.top[k].token == lp.token) {
      EXPECT_EQ(lp.top[k].logprob, lp.logprob) << what;
    }
  }
}

}  // namespace ladle::scheduler::testing_real
