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
#include "tests/scheduler/logprob_reference.h"
#include "tests/scheduler/real_engine.h"

namespace ladle::scheduler {
namespace {

using namespace testing_real;

GenerationRequest request(const Engine& e, const std::string& prompt, int max_tokens, int logprobs,
                          float temperature = 0, std::uint64_t seed = 1) {
  GenerationRequest r = make_request(e, prompt, max_tokens, temperature, seed);
  r.params.logprobs = logprobs;
  return r;
}

std::vector<std::shared_ptr<LogprobSink>> run(LlmEngine& engine, const std::vector<GenerationRequest>& reqs) {
  return run_logprobs(engine, reqs);
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

// Every delivered number against the reference logits of the positions that produced each
// generated token; greedy tokens are the first maximum, which leads `top`.
void expect_matches_reference(const Engine& engine, const GenerationRequest& r, const LogprobSink& s) {
  const std::vector<TokenId> generated = tokens_of(s);
  ASSERT_FALSE(generated.empty());
  std::vector<TokenId> tokens = r.prompt_tokens;
  tokens.insert(tokens.end(), generated.begin(), generated.end() - 1);
  const auto rows = reference_logits(tokens);
  const std::size_t first = r.prompt_tokens.size() - 1;
  ASSERT_EQ(rows.size() - first, s.logprobs_.size());
  for (std::size_t j = 0; j < s.logprobs_.size(); ++j) {
    const TokenLogprob& lp = s.logprobs_[j];
    const auto& row = rows[first + j];
    expect_entry_matches(lp, row, r.params.logprobs, "token " + std::to_string(j));
    if (r.params.temperature == 0) {
      EXPECT_EQ(lp.token, TokenId(std::max_element(row.begin(), row.end()) - row.begin())) << "token " << j;
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
    const auto tokens = engine->tokenize(text, false, true);
    ASSERT_TRUE(tokens.ok());
    std::string joined;
    for (TokenId t : *tokens) joined += engine->token_bytes(t);
    EXPECT_EQ(joined, " " + text);
  }
}

}  // namespace
}  // namespace ladle::scheduler
