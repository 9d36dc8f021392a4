// LlmEngine prompt log-probabilities (SamplingParams::prompt_logprobs, for `echo`) on the real
// trained model (stories260K): delivered once, before the first token, one entry per prompt token
// after the first, equal to an independent log_softmax of the model's logits at the preceding
// position; whole even when the prompt's prefix is in the prefix cache, is prefilled in several
// chunks, or shares its steps with other requests (bit for bit the same as alone); and asking for
// them changes no generated token.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/scheduler/logprob_reference.h"
#include "tests/scheduler/real_engine.h"

namespace ladle::scheduler {
namespace {

using namespace testing_real;

GenerationRequest echo_request(const Engine& e, const std::string& prompt, int prompt_logprobs, int max_tokens = 8,
                               float temperature = 0, std::uint64_t seed = 1) {
  GenerationRequest r = make_request(e, prompt, max_tokens, temperature, seed);
  r.params.prompt_logprobs = prompt_logprobs;
  return r;
}

// One call, before any token, with prompt.size() - 1 entries: entry i is prompt token i + 1 and
// its numbers are those of the reference logits at position i.
void expect_prompt_matches_reference(const GenerationRequest& r, const LogprobSink& s) {
  ASSERT_EQ(s.num_prompt_calls_, 1);
  EXPECT_TRUE(s.prompt_first_);
  const auto& prompt = r.prompt_tokens;
  ASSERT_EQ(s.prompt_logprobs_.size(), prompt.size() - 1);
  const auto rows = reference_logits(prompt);
  for (std::size_t i = 0; i + 1 < prompt.size(); ++i) {
    EXPECT_EQ(s.prompt_logprobs_[i].token, prompt[i + 1]) << "prompt token " << i + 1;
    expect_entry_matches(s.prompt_logprobs_[i], rows[i], r.params.prompt_logprobs,
                         "prompt token " + std::to_string(i + 1));
  }
}

void expect_same_bits(const std::vector<TokenLogprob>& a, const std::vector<TokenLogprob>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].token, b[i].token) << what << " " << i;
    EXPECT_EQ(a[i].logprob, b[i].logprob) << what << " " << i;
    ASSERT_EQ(a[i].top.size(), b[i].top.size()) << what << " " << i;
    for (std::size_t k = 0; k < a[i].top.size(); ++k) {
      EXPECT_EQ(a[i].top[k].token, b[i].top[k].token) << what << " " << i;
      EXPECT_EQ(a[i].top[k].logprob, b[i].top[k].logprob) << what << " " << i;
    }
  }
}

TEST(LlmEnginePromptLogprobs, EqualLogSoftmaxOfTheModelsLogits) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  for (int n : {0, 3, 20}) {
    GenerationRequest r = echo_request(*engine, "Once upon a time there was a little girl named Lily.", n);
    r.params.logprobs = 2;  // both kinds: the prompt's come first
    const auto s = run_logprobs(*engine, {r})[0];
    expect_prompt_matches_reference(r, *s);
    EXPECT_EQ(int(s->logprobs_.size()), s->finish_.usage.completion_tokens);
  }
}

// The prefix cache holds the prompt's blocks (another request just ran it): a request that wants
// prompt logprobs still computes, and reports, every position; one that does not, reads them.
TEST(LlmEnginePromptLogprobs, WholeDespiteThePrefixCache) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  const std::string prompt = long_prefix() + "Then they went home.";
  GenerationRequest plain = echo_request(*engine, prompt, -1);
  GenerationRequest echo = echo_request(*engine, prompt, 1);
  const auto first = run_logprobs(*engine, {plain})[0];
  const auto s = run_logprobs(*engine, {echo})[0];
  EXPECT_EQ(s->finish_.usage.cached_prompt_tokens, 0);
  expect_prompt_matches_reference(echo, *s);
  EXPECT_EQ(s->text_, first->text_);
  const auto again = run_logprobs(*engine, {plain})[0];
  EXPECT_GT(again->finish_.usage.cached_prompt_tokens, 0);  // the cache was there to be read
  EXPECT_EQ(again->num_prompt_calls_, 0);
}

// Prefilled in 32-token chunks beside other requests' prefills and decodes, the entries are the
// same bits as alone in one chunk (and so equal the reference), and the generated text is the same
// as without prompt logprobs.
TEST(LlmEnginePromptLogprobs, ChunkedAndBatchedEqualAlone) {
  EngineConfig c = real_model_config();
  c.max_batched_tokens = 32;
  c.max_running = 8;  // else max_batched_tokens is raised to max_running
  auto chunked = make_engine(c);
  auto whole = make_engine(real_model_config());
  ASSERT_TRUE(chunked && whole);
  std::vector<GenerationRequest> reqs;
  for (std::size_t i = 0; i < 6; ++i)
    reqs.push_back(echo_request(*whole, long_prefix().substr(i * 40) + kPrompts[i], i % 3 == 2 ? -1 : int(i), 24,
                                i % 2 ? 0.8f : 0.0f, 70 + i));
  const auto together = run_logprobs(*chunked, reqs);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto alone = run_logprobs(*whole, {reqs[i]})[0];
    GenerationRequest off = reqs[i];
    off.params.prompt_logprobs = -1;
    const auto without = run_logprobs(*whole, {off})[0];
    EXPECT_EQ(together[i]->text_, without->text_) << i;
    EXPECT_EQ(alone->text_, without->text_) << i;
    if (reqs[i].params.prompt_logprobs < 0) {
      EXPECT_EQ(together[i]->num_prompt_calls_, 0);
      continue;
    }
    EXPECT_EQ(together[i]->num_prompt_calls_, 1);
    EXPECT_TRUE(together[i]->prompt_first_);
    expect_same_bits(together[i]->prompt_logprobs_, alone->prompt_logprobs_, "request " + std::to_string(i));
    if (i == 0) expect_prompt_matches_reference(reqs[i], *together[i]);
  }
}

// A one-token prompt has no prompt token with a predecessor: one call, with nothing in it.
TEST(LlmEnginePromptLogprobs, OneTokenPromptGetsAnEmptyCall) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  GenerationRequest r = echo_request(*engine, "", 5);
  ASSERT_EQ(r.prompt_tokens.size(), 1u);  // BOS alone
  const auto s = run_logprobs(*engine, {r})[0];
  EXPECT_EQ(s->num_prompt_calls_, 1);
  EXPECT_TRUE(s->prompt_first_);
  EXPECT_TRUE(s->prompt_logprobs_.empty());
  EXPECT_GT(s->finish_.usage.completion_tokens, 0);
}

}  // namespace
}  // namespace ladle::scheduler
