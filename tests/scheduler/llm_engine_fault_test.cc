// LlmEngine when a step throws: the exception must not leave the step thread (which would end the
// process). The step's requests end with FinishReason::kError, the observer hears
// on_step_failed once, and the engine goes on serving.
#include "scheduler/llm_engine.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "tests/scheduler/real_engine.h"

namespace ladle::scheduler {
namespace {

using namespace testing_real;

// A sink whose on_delta throws, as one that fails to allocate would: the throw happens on the step
// thread, in the middle of a step's demultiplexing.
class ThrowingSink final : public TokenSink {
 public:
  void on_delta(std::string_view, int) override { throw std::runtime_error("sink exploded"); }
  void on_finish(const Finish& f) override { inner_.on_finish(f); }
  bool wait() { return inner_.wait(); }
  Finish finish() { return inner_.finish(); }

 private:
  CollectingSink inner_;
};

TEST(LlmEngineFault, AThrowingStepFailsItsRequestsAndTheEngineGoesOn) {
  RecordingObserver obs;
  auto engine = make_engine(real_model_config(), &obs);
  ASSERT_TRUE(engine);
  auto bad = std::make_shared<ThrowingSink>();
  ASSERT_TRUE(engine->submit(make_request(*engine, "Once upon a time", 32), bad).ok());
  ASSERT_TRUE(bad->wait());
  EXPECT_EQ(bad->finish().reason, FinishReason::kError);
  EXPECT_NE(bad->finish().error_message.find("sink exploded"), std::string::npos) << bad->finish().error_message;
  EXPECT_EQ(obs.failed_steps(), 1);

  // The engine is still running, with no block leaked, and serves the next request in full.
  auto good = make_request(*engine, "Once upon a time", 32);
  good.params.ignore_eos = true;
  Output after = run_alone(*engine, good);
  EXPECT_EQ(after.reason, FinishReason::kLength);
  EXPECT_EQ(after.tokens, 32);
  EXPECT_TRUE(obs.wait_for([&](const auto&) { return engine->gauges().kv_blocks_used == 0; }, 5s));
  EXPECT_EQ(obs.failed_steps(), 1);
}

// Both requests of the failing step end with an error (their state after the throw is unknown);
// each gets exactly one finish, and the reasons reach the observer.
TEST(LlmEngineFault, EveryRequestOfTheFailedStepGetsAnErrorFinish) {
  RecordingObserver obs;
  EngineConfig c = real_model_config();
  auto created = LlmEngine::create(c, &obs);
  ASSERT_TRUE(created.ok());
  LlmEngine& engine = **created;
  auto bad = std::make_shared<ThrowingSink>();
  auto partner = std::make_shared<CollectingSink>();
  // Submitted before the step thread starts, so both are in its first step.
  ASSERT_TRUE(engine.submit(make_request(engine, "Once upon a time", 32), bad).ok());
  ASSERT_TRUE(engine.submit(make_request(engine, "Lily and Tom", 32), partner).ok());
  engine.start();
  ASSERT_TRUE(bad->wait());
  ASSERT_TRUE(partner->wait());
  EXPECT_EQ(bad->finish().reason, FinishReason::kError);
  EXPECT_EQ(partner->finish().reason, FinishReason::kError);
  int errors = 0;
  for (const auto& e : obs.events())
    if (e.kind == RecordingObserver::Event::kFinished) errors += e.reason == FinishReason::kError;
  EXPECT_EQ(errors, 2);
  engine.stop();
}

}  // namespace
}  // namespace ladle::scheduler
