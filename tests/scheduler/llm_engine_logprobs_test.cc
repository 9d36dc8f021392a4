// LlmEngine log-probabilities on the real trained model (stories260K): what on_logprobs delivers
// equals an independent double-precision log_softmax of the logits the model's own forward pass
// gives at the same positions (raw: before temperature and filtering); it comes before the delta
// that covers its token; asking for it changes no token (greedy through the argmax screen, or
// seeded sampling) and no other request's output; it is batch-invariant, bit for bit.
// token_bytes gives the vocabulary's raw bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "model/tokenizer.h"
#include "model/transformer.h"
#include "tests/scheduler/real_engine.h"

namespace ladle::scheduler {
namespace {

using namespace testing_real;

// Collects one request's output with its log-probabilities, and checks the order of calls: every
// delta covers only tokens whose on_logprobs has arrived.
class LogprobSink final : public TokenSink {
 public:
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
    return cv_.wait_for(lock, 60s, [&] { return done_; });
  }
  std::vector<TokenLogprob> logprobs_;
  std::string text_;
  int covered_ = 0;
  bool ordered_ = true;  // false once a delta covered a token without its logprobs (if asked for)
  Finish finish_;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

GenerationRequest request(const Engine& e, const std::string& prompt, int max_tokens, int logprobs,
                          float temperature = 0, std::uint64_t seed = 1) {
  GenerationRequest r = make_request(e, prompt, max_tokens, temperature, seed);
  r.params.logprobs = logprobs;
  return r;
}

// Submits every request before any can finish; returns their sinks once all have finished.
std::vector<std::shared_ptr<LogprobSink>> run(LlmEngine& engine, const std::vector<GenerationRequest>& reqs) {
  std::vector<std::shared_ptr<LogprobSink>> sinks;
  for (const auto& r : reqs) {
    sinks.push_back(std::make_shared<LogprobSink>());
    EXPECT_TRUE(engine.submit(r, sinks.back()).ok());
  }
  for (auto& s : sinks) EXPECT_TRUE(s->wait());
  return sinks;
}

// The tokens on_logprobs reported, which must be the request's output.
std::vector<TokenId> tokens_of(const LogprobSink& s) {
  std::vector<TokenId> out;
  for (const auto& lp : s.logprobs_) out.push_back(lp.token);
  return out;
}

// What every request asking for logprobs must show: one on_logprobs per generated token, before
// the deltas that cover it, whose tokens spell the text that was streamed.
void expect_complete(const Engine& engine, const LogprobSink& s, const std::string& what) {
  EXPECT_EQ(int(s.logprobs_.size()), s.finish_.usage.completion_tokens) << what;
  EXPECT_TRUE(s.ordered_) << what;
  auto text = engine.detokenize(tokens_of(s));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, s.text_) << what;
}

// The model's logits at the positions that produced `generated` after `prompt`, through
// Transformer::forward directly: the prompt in one step, then one token per step.
std::vector<std::vector<float>> reference_logits(const std::vector<TokenId>& prompt,
                                                 const std::vector<TokenId>& generated) {
  auto model = model::Transformer::load(std::string(LADLE_MODELS_DIR) + "/stories260K.bin",
                                        model::RuntimeLimits{256, 4, 1});
  EXPECT_TRUE(model.ok());
  if (!model) return {};
  kvcache::KvStore kv((*model)->kv_shape(16), 512 / 16);
  BlockTable table(std::size_t(kv.num_blocks()));
  std::iota(table.begin(), table.end(), 0);
  std::vector<std::vector<float>> rows;
  std::vector<TokenId> next = prompt;
  int pos = 0;
  for (std::size_t j = 0; j < generated.size(); ++j) {
    model::ForwardBatch b;
    for (TokenId t : next) b.token_ids.push_back(t), b.positions.push_back(pos++);
    b.seqs.push_back({0, b.num_tokens(), pos, table, true});
    auto logits = (*model)->forward(b, kv);
    rows.emplace_back(logits.begin(), logits.end());
    next = {generated[j]};
  }
  return rows;
}

// log_softmax of a row in double with std::exp.
std::vector<double> reference_log_softmax(const std::vector<float>& l) {
  double m = -INFINITY, s = 0;
  for (float v : l) m = std::max(m, double(v));
  for (float v : l) s += std::exp(double(v) - m);
  std::vector<double> out(l.size());
  for (std::size_t i = 0; i < l.size(); ++i) out[i] = double(l[i]) - m - std::log(s);
  return out;
}

// Every delivered number against the reference: the sampled token's logprob, `top` (exactly N
// entries, the N largest reference logits in order, ties by lower id) and its values.
void expect_matches_reference(const Engine& engine, const GenerationRequest& r, const LogprobSink& s) {
  const auto rows = reference_logits(r.prompt_tokens, tokens_of(s));
  ASSERT_EQ(rows.size(), s.logprobs_.size());
  for (std::size_t j = 0; j < rows.size(); ++j) {
    const TokenLogprob& lp = s.logprobs_[j];
    const auto want = reference_log_softmax(rows[j]);
    EXPECT_NEAR(lp.logprob, want[std::size_t(lp.token)], 1e-4) << "token " << j;
    std::vector<TokenId> order(want.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](TokenId a, TokenId b) { return rows[j][a] > rows[j][b]; });
    ASSERT_EQ(int(lp.top.size()), r.params.logprobs) << "token " << j;
    for (std::size_t k = 0; k < lp.top.size(); ++k) {
      EXPECT_EQ(lp.top[k].token, order[k]) << "token " << j << " rank " << k;
      EXPECT_NEAR(lp.top[k].logprob, want[std::size_t(lp.top[k].token)], 1e-4);
      if (k > 0) {
        EXPECT_GE(lp.top[k - 1].logprob, lp.top[k].logprob);
      }
      if (lp.top[k].token == lp.token) {
        EXPECT_EQ(lp.top[k].logprob, lp.logprob);
      }
    }
    if (r.params.temperature == 0) {  // greedy: the first maximum, which leads `top`
      EXPECT_EQ(lp.token, order[0]) << "token " << j;
      if (!lp.top.empty()) {
        EXPECT_EQ(lp.top[0].token, lp.token);
      }
    }
  }
  expect_complete(engine, s, "reference");
}

TEST(LlmEngineLogprobs, EqualLogSoftmaxOfTheModelsLogits) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  GenerationRequest greedy = request(*engine, "Once upon a time", 40, 5);
  GenerationRequest sampled = request(*engine, "Lily and Tom", 40, 20, 0.7f, 11);
  sampled.params.top_k = 8;
  sampled.params.top_p = 0.9f;
  GenerationRequest hot = request(*engine, "The cat sat", 40, 0, 1.6f, 12);
  for (const auto& r : {greedy, sampled, hot}) {
    auto sinks = run(*engine, {r});
    expect_matches_reference(*engine, r, *sinks[0]);
  }
  // The same three in one batch.
  auto sinks = run(*engine, {greedy, sampled, hot});
  expect_matches_reference(*engine, greedy, *sinks[0]);
  expect_matches_reference(*engine, sampled, *sinks[1]);
  expect_matches_reference(*engine, hot, *sinks[2]);
}

// Greedy requests go through the argmax screen unless they ask for logprobs: with them, they get
// full logits and pick the same first maximum. Alone (screened without logprobs) and three to a
// step (all greedy: screened), mixed with requests that do not ask.
TEST(LlmEngineLogprobs, GreedyTokensUnchanged) {
  EngineConfig c = real_model_config();
  c.max_running = 3;
  auto engine = make_engine(c);
  ASSERT_TRUE(engine);
  std::vector<GenerationRequest> plain, with, mixed;
  for (std::size_t i = 0; i < kPrompts.size(); ++i) {
    plain.push_back(request(*engine, kPrompts[i], 48, -1));
    with.push_back(request(*engine, kPrompts[i], 48, 2));
    mixed.push_back(request(*engine, kPrompts[i], 48, i % 2 == 0 ? 1 : -1));
  }
  const auto want = run(*engine, plain);
  const auto got = run(*engine, with), got_mixed = run(*engine, mixed);
  for (std::size_t i = 0; i < kPrompts.size(); ++i) {
    EXPECT_EQ(got[i]->text_, want[i]->text_) << kPrompts[i];
    EXPECT_EQ(got[i]->finish_.usage.completion_tokens, want[i]->finish_.usage.completion_tokens);
    EXPECT_EQ(got_mixed[i]->text_, want[i]->text_) << kPrompts[i];
    expect_complete(*engine, *got[i], kPrompts[i]);
    for (const auto& lp : got[i]->logprobs_) EXPECT_EQ(lp.top.at(0).token, lp.token) << kPrompts[i];
    EXPECT_EQ(got_mixed[i]->logprobs_.empty(), i % 2 == 1);
    auto alone = run(*engine, {with[i]});
    EXPECT_EQ(alone[0]->text_, want[i]->text_) << kPrompts[i];
    EXPECT_EQ(tokens_of(*alone[0]), tokens_of(*got[i])) << kPrompts[i];
  }
}

// The per-request RNG draws the same tokens whether or not logprobs are computed.
TEST(LlmEngineLogprobs, SeededSamplingTokensUnchanged) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  std::vector<GenerationRequest> plain, with;
  for (std::size_t i = 0; i < kPrompts.size(); ++i) {
    plain.push_back(request(*engine, kPrompts[i], 48, -1, 0.9f, 300 + i));
    plain.back().params.top_p = i % 2 ? 0.9f : 1.0f;
    with.push_back(plain.back());
    with.back().params.logprobs = int(i % 4);
  }
  const auto want = run(*engine, plain), got = run(*engine, with);
  for (std::size_t i = 0; i < kPrompts.size(); ++i) {
    EXPECT_EQ(got[i]->text_, want[i]->text_) << kPrompts[i];
    expect_complete(*engine, *got[i], kPrompts[i]);
  }
}

// logprobs = -1: not one call, greedy or sampled; the same requests with logprobs = 0 get one
// per token, with an empty `top`.
TEST(LlmEngineLogprobs, NoCallsWhenOff) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  std::vector<GenerationRequest> off = {request(*engine, "A frog", 30, -1), request(*engine, "Mom said", 30, -1, 1.0f, 5)};
  auto on = off;
  for (auto& r : on) r.params.logprobs = 0;
  for (const auto& s : run(*engine, off)) {
    EXPECT_TRUE(s->logprobs_.empty());
    EXPECT_GT(s->finish_.usage.completion_tokens, 0);
  }
  for (const auto& s : run(*engine, on)) {
    expect_complete(*engine, *s, "logprobs 0");
    for (const auto& lp : s->logprobs_) EXPECT_TRUE(lp.top.empty());
  }
}

// A request's logprobs alone and inside a batch of sixteen (greedy and sampled, some asking, some
// not) are the same bits: the logits are batch-invariant and so is their log_softmax.
TEST(LlmEngineLogprobs, BatchInvariantBitForBit) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  std::vector<GenerationRequest> reqs;
  for (std::size_t i = 0; i < kPrompts.size(); ++i)
    reqs.push_back(request(*engine, kPrompts[i], 40, i % 3 == 2 ? -1 : 4, i % 2 ? 0.8f : 0.0f, 40 + i));
  const auto together = run(*engine, reqs);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto alone = run(*engine, {reqs[i]});
    const auto& a = alone[0]->logprobs_;
    const auto& b = together[i]->logprobs_;
    EXPECT_EQ(a.empty(), reqs[i].params.logprobs < 0);
    ASSERT_EQ(a.size(), b.size()) << kPrompts[i];
    for (std::size_t j = 0; j < a.size(); ++j) {
      EXPECT_EQ(a[j].token, b[j].token);
      EXPECT_EQ(a[j].logprob, b[j].logprob) << kPrompts[i] << " token " << j;
      ASSERT_EQ(a[j].top.size(), b[j].top.size());
      for (std::size_t k = 0; k < a[j].top.size(); ++k) {
        EXPECT_EQ(a[j].top[k].token, b[j].top[k].token);
        EXPECT_EQ(a[j].top[k].logprob, b[j].top[k].logprob);
      }
    }
  }
}

// Tokens whose text never streams still get their logprobs: a stop string's tokens, and the
// control token that ends a story.
TEST(LlmEngineLogprobs, StopStringAndEndOfTextTokensIncluded) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  GenerationRequest story = request(*engine, "Once upon a time", 400, 1);
  auto s = run(*engine, {story})[0];
  ASSERT_EQ(s->finish_.reason, FinishReason::kStop);
  ASSERT_FALSE(s->logprobs_.empty());
  EXPECT_TRUE(s->logprobs_.back().token == model::Tokenizer::kBos || s->logprobs_.back().token == model::Tokenizer::kEos);
  expect_complete(*engine, *s, "story");
  // Stop at the first " the" of the same story: its tokens are reported but not streamed.
  GenerationRequest stopped = story;
  stopped.params.stop = {" the"};
  auto t = run(*engine, {stopped})[0];
  ASSERT_EQ(t->finish_.reason, FinishReason::kStop);
  EXPECT_EQ(int(t->logprobs_.size()), t->finish_.usage.completion_tokens);
  EXPECT_TRUE(t->ordered_);
  ASSERT_NE(s->text_.find(" the"), std::string::npos);
  EXPECT_EQ(s->text_.find(" the"), t->text_.size());
  EXPECT_EQ(s->text_.substr(0, t->text_.size()), t->text_);
  // The stop string's tokens were reported too: they spell the text, then the stop string.
  const auto reported = engine->detokenize(tokens_of(*t));
  ASSERT_TRUE(reported.ok());
  EXPECT_EQ(reported->substr(0, t->text_.size() + 4), t->text_ + " the");
}

TEST(LlmEngineLogprobs, TokenBytesAreTheRawPieces) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->token_bytes(model::Tokenizer::kFirstByteToken + 0x0A), "\n");
  EXPECT_EQ(engine->token_bytes(model::Tokenizer::kFirstByteToken + 0xE2), "\xE2");
  for (TokenId control : {0, 1, 2, -1, 512, 100000}) EXPECT_EQ(engine->token_bytes(control), "") << control;
  // Joined, a text's tokens give back its bytes (with the tokenizer's dummy-prefix space), byte
  // fallbacks of characters outside the vocabulary included.
  for (std::string text : {"Once upon a time, Lily saw a cat.", "caf\xC3\xA9 \xE2\x98\x95 \xF0\x9F\x98\x80!"}) {
    const auto tokens = engine->tokenize(text, false);
    ASSERT_TRUE(tokens.ok());
    std::string joined;
    for (TokenId t : *tokens) joined += engine->token_bytes(t);
    EXPECT_EQ(joined, " " + text);
  }
}

}  // namespace
}  // namespace ladle::scheduler
