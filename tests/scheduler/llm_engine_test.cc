// LlmEngine on the real trained model (stories260K): batching, preemption, prefix caching, the
// argmax screen and stop strings must never change what a request produces, and must never leak
// a block; submit refuses what can never run; tokenize/detokenize round-trip. Cancellation is in
// llm_engine_cancel_test.cc.
#include "scheduler/llm_engine.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/scheduler/real_engine.h"

namespace ladle::scheduler {
namespace {

using namespace testing_real;

TEST(LlmEngine, GreedyBatchedEqualsAlone) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  std::vector<GenerationRequest> reqs;
  for (const auto& p : kPrompts) reqs.push_back(make_request(*engine, p, 64));
  std::vector<Output> alone;
  for (const auto& r : reqs) alone.push_back(run_alone(*engine, r));
  int max_batch = 0;
  std::vector<Output> together = run_batched(real_model_config(), reqs, &max_batch);
  EXPECT_EQ(max_batch, int(reqs.size()));  // every request decoded in one step at least once
  ASSERT_EQ(together.size(), reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(together[i].text, alone[i].text) << kPrompts[i];
    EXPECT_EQ(together[i].reason, alone[i].reason);
    EXPECT_EQ(together[i].tokens, alone[i].tokens);
    EXPECT_FALSE(alone[i].text.empty());
  }
}

// The greedy argmax screen changes no token: greedy and seeded sampled requests, alone and in
// steps of up to three sequences (screened when all are greedy) or sixteen (never screened), give
// the same outputs with it as with --no-argmax-screen. (Half weights: stories260K's classifier is
// below RuntimeLimits::min_half_screen_bytes; transformer_test screens it with that bound at 0.)
TEST(LlmEngine, ArgmaxScreenChangesNoToken) {
  EngineConfig c = real_model_config();
  c.max_running = 3;
  auto screened = make_engine(c);
  c.no_argmax_screen = true;
  auto full = make_engine(c);
  c.max_running = 16;
  auto wide = make_engine(c);
  ASSERT_TRUE(screened && full && wide);
  std::vector<GenerationRequest> reqs;
  for (std::size_t i = 0; i < kPrompts.size(); ++i)
    reqs.push_back(make_request(*screened, kPrompts[i], 48, i % 4 == 3 ? 0.8f : 0.0f, 2000 + i));
  const std::vector<Output> want = run_together(*wide, reqs);
  const std::vector<Output> got = run_together(*screened, reqs), unscreened = run_together(*full, reqs);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(got[i].text, want[i].text) << kPrompts[i];
    EXPECT_EQ(unscreened[i].text, want[i].text) << kPrompts[i];
    EXPECT_EQ(run_alone(*screened, reqs[i]).text, want[i].text) << kPrompts[i];
  }
}

// --kv-cache-dtype f16: twice the blocks in the same --kv-cache-mb, and batching still changes
// nothing (half K/V is read the same way whatever the batch). A bad name is refused at create.
TEST(LlmEngine, HalfKvCacheDoublesCapacityAndKeepsBatchInvariance) {
  EngineConfig c = real_model_config();
  c.kv_cache_mb = 5;  // 256 blocks of 16 tokens × 5 layers × 2 × 32 floats
  auto f32 = make_engine(c);
  c.kv_cache_dtype = "f16";
  auto engine = make_engine(c);
  ASSERT_TRUE(f32 && engine);
  EXPECT_EQ(engine->model_info().kv_blocks_total, 2 * f32->model_info().kv_blocks_total);
  std::vector<GenerationRequest> reqs;
  for (std::size_t i = 0; i < 8; ++i) reqs.push_back(make_request(*engine, kPrompts[i], 48));
  std::vector<Output> alone;
  for (const auto& r : reqs) alone.push_back(run_alone(*engine, r));
  int max_batch = 0;
  std::vector<Output> together = run_batched(c, reqs, &max_batch);
  EXPECT_EQ(max_batch, int(reqs.size()));
  ASSERT_EQ(together.size(), reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(together[i].text, alone[i].text) << kPrompts[i];
    EXPECT_FALSE(alone[i].text.empty());
  }
  c.kv_cache_dtype = "q8";
  auto bad = LlmEngine::create(c, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("f16"), std::string::npos) << bad.error().message;
}

TEST(LlmEngine, SeededSamplingDoesNotDependOnTheBatch) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  std::vector<GenerationRequest> reqs;
  for (std::size_t i = 0; i < 8; ++i) reqs.push_back(make_request(*engine, kPrompts[i], 48, 1.0f, 1000 + i));
  std::vector<Output> alone;
  for (const auto& r : reqs) alone.push_back(run_alone(*engine, r));
  int max_batch = 0;
  std::vector<Output> together = run_batched(real_model_config(), reqs, &max_batch);
  EXPECT_EQ(max_batch, int(reqs.size()));
  ASSERT_EQ(together.size(), reqs.size());
  for (std::size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(together[i].text, alone[i].text) << kPrompts[i];
}

TEST(LlmEngine, PreemptionDoesNotChangeOutputs) {
  EngineConfig tight = real_model_config();
  tight.kv_cache_mb = 1;  // 1 MiB = 51 blocks of 16 tokens: far less than 16 × ~200 tokens
  RecordingObserver obs;
  auto engine = make_engine(tight, &obs);
  ASSERT_TRUE(engine);
  auto roomy = make_engine(real_model_config());
  ASSERT_TRUE(roomy);
  std::vector<GenerationRequest> reqs;
  for (const auto& p : kPrompts) {
    reqs.push_back(make_request(*engine, p, 180));
    reqs.back().params.ignore_eos = true;
  }
  std::vector<Output> expected;
  for (const auto& r : reqs) expected.push_back(run_alone(*roomy, r));
  std::vector<Output> got = run_together(*engine, reqs);
  EXPECT_GT(obs.preemptions(), 0u);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(got[i].text, expected[i].text) << kPrompts[i];
    EXPECT_EQ(got[i].tokens, 180);
  }
  // Gauges are published right after the last finish; give the step thread that moment.
  EXPECT_TRUE(obs.wait_for([&](const auto&) { return engine->gauges().kv_blocks_used == 0; }, 5s));
}

TEST(LlmEngine, SharedPrefixIsServedFromCache) {
  RecordingObserver obs;
  auto engine = make_engine(real_model_config(), &obs);
  ASSERT_TRUE(engine);
  EngineConfig no_cache_cfg = real_model_config();
  no_cache_cfg.no_prefix_caching = true;
  auto no_cache = make_engine(no_cache_cfg);
  ASSERT_TRUE(no_cache);

  const std::string prefix = long_prefix();
  auto a = make_request(*engine, prefix + "One day", 16);
  auto b = make_request(*engine, prefix + "The end", 16);
  ASSERT_GE(a.prompt_tokens.size(), 200u);
  ASSERT_LT(a.prompt_tokens.size(), 480u);
  auto sa = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->submit(a, sa).ok());
  ASSERT_TRUE(sa->wait());
  EXPECT_EQ(sa->finish().usage.cached_prompt_tokens, 0);
  auto sb = std::make_shared<CollectingSink>();
  ASSERT_TRUE(engine->submit(b, sb).ok());
  ASSERT_TRUE(sb->wait());
  EXPECT_GE(sb->finish().usage.cached_prompt_tokens, 192);
  EXPECT_GE(obs.prefix_hits(), 192u);
  EXPECT_EQ(sb->text(), run_alone(*no_cache, b).text);
}

TEST(LlmEngine, StopStringEndsTheRequestAndIsNeverStreamed) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  auto r = make_request(*engine, "Once upon a time", 100);
  const std::string full = run_alone(*engine, r).text;
  const auto pos = full.find(" named");
  ASSERT_NE(pos, std::string::npos) << full;
  r.params.stop = {" named"};
  Output got = run_alone(*engine, r);
  EXPECT_EQ(got.text, full.substr(0, pos));
  EXPECT_EQ(got.reason, FinishReason::kStop);
}

TEST(LlmEngine, SubmitRejectsWhatCanNeverRun) {
  EngineConfig c = real_model_config();
  c.max_waiting = 2;
  auto created = LlmEngine::create(c, nullptr);
  ASSERT_TRUE(created.ok());
  LlmEngine& engine = **created;  // not started: submissions stay queued
  GenerationRequest too_long;
  too_long.prompt_tokens.assign(engine.model_info().context_length, 300);
  auto r1 = engine.submit(too_long, {});
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(engine.submit(GenerationRequest{}, {}).ok());  // empty prompt
  GenerationRequest bad_id;
  bad_id.prompt_tokens = {1, 99999};
  EXPECT_FALSE(engine.submit(bad_id, {}).ok());

  auto ok = make_request(engine, "Hi", 4);
  auto s1 = std::make_shared<CollectingSink>(), s2 = std::make_shared<CollectingSink>();
  EXPECT_TRUE(engine.submit(ok, s1).ok());
  EXPECT_TRUE(engine.submit(ok, s2).ok());
  auto full = engine.submit(ok, std::make_shared<CollectingSink>());
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);

  engine.stop();  // queued requests are answered, new ones refused
  EXPECT_TRUE(s1->wait(1s));
  EXPECT_EQ(s1->finish().reason, FinishReason::kCancelled);
  auto late = engine.submit(ok, s1);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
}

TEST(LlmEngine, TokenizeRejectsInvalidUtf8AndDetokenizeRoundTrips) {
  auto engine = make_engine(real_model_config());
  ASSERT_TRUE(engine);
  EXPECT_FALSE(engine->tokenize("bad \xff byte", true, true).ok());
  auto ids = engine->tokenize("Once upon a time", true, true);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<TokenId>{1, 403, 407, 261, 378}));
  EXPECT_EQ(*engine->detokenize(*ids), "Once upon a time");
  EXPECT_FALSE(engine->detokenize(std::vector<TokenId>{100000}).ok());
}

// llama2.c checkpoints keep the plain template; --chat-template replaces it with a Jinja file, whose
// text is what tokenize_chat tokenizes (tok512 has no special tokens: BOS is the tokenizer's); a
// template the interpreter cannot run, or a missing file, fails the load naming it.
TEST(LlmEngine, ChatTemplateIsThePlainOneOrTheGivenFile) {
  auto plain = make_engine(real_model_config());
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->model_info().chat_template, "plain");
  const std::vector<ChatMessage> conversation = {{ChatRole::kSystem, "Be kind."}, {ChatRole::kUser, "Once upon"}};
  EXPECT_EQ(*plain->tokenize_chat(conversation, false),
            *plain->tokenize("System: Be kind.\nUser: Once upon\nAssistant:", true, true));

  const std::string path = ::testing::TempDir() + "/ladle_chat_template_test.jinja";
  std::ofstream(path) << "{% for m in messages %}{{ m['role'] | upper }}: {{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}Story:{% endif %}";
  EngineConfig c = real_model_config();
  c.chat_template_path = path;
  auto jinja = make_engine(c);
  ASSERT_TRUE(jinja);
  EXPECT_EQ(jinja->model_info().chat_template, path);
  const auto ids = jinja->tokenize_chat(conversation, false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, *jinja->tokenize("SYSTEM: Be kind.\nUSER: Once upon\nStory:", true, true));
  EXPECT_EQ(ids->front(), 1);  // BOS

  std::ofstream(path) << "{% include 'other.jinja' %}";
  auto bad = LlmEngine::create(c, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(path), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("include"), std::string::npos) << bad.error().message;
  std::remove(path.c_str());
  auto missing = LlmEngine::create(c, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("--chat-template"), std::string::npos) << missing.error().message;
}

}  // namespace
}  // namespace ladle::scheduler
