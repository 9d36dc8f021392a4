// Engine defaults derived from the model's shape and the machine.
#include "scheduler/engine_config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "model/config.h"
#include "model/isa.h"

namespace ladle::scheduler {
namespace {

TEST(EngineConfigTest, ATinyModelLeavesOneCoreToTheServer) {
  const model::ModelConfig tiny = *model::preset_config("tiny");
  ASSERT_LT(tiny.matmul_params(), 4'000'000u);
  EXPECT_EQ(default_compute_threads(tiny, 1), 1);
  EXPECT_EQ(default_compute_threads(tiny, 2), 1);
  EXPECT_EQ(default_compute_threads(tiny, 8), 7);
}

TEST(EngineConfigTest, LargerModelsComputeOnEveryCore) {
  for (const char* name : {"15m", "110m"}) {
    const model::ModelConfig m = *model::preset_config(name);
    EXPECT_EQ(default_compute_threads(m, 1), 1) << name;
    EXPECT_EQ(default_compute_threads(m, 2), 2) << name;
    EXPECT_EQ(default_compute_threads(m, 8), 8) << name;
  }
}

TEST(EngineConfigTest, GivenThreadsAreKeptAndZeroIsDerived) {
  const model::ModelConfig tiny = *model::preset_config("tiny");
  EngineConfig given;
  given.threads = 2;
  ASSERT_TRUE(resolve_engine_defaults(given, tiny));
  EXPECT_EQ(given.threads, 2);
  EngineConfig derived;
  ASSERT_TRUE(resolve_engine_defaults(derived, tiny));
  EXPECT_GE(derived.threads, 1);
  EngineConfig negative;
  negative.threads = -1;
  EXPECT_FALSE(resolve_engine_defaults(negative, tiny));
}

TEST(EngineConfigTest, ItlTargetAndBatchFloorAreRangeChecked) {
  const model::ModelConfig tiny = *model::preset_config("tiny");
  EngineConfig ok;
  ok.itl_target_ms = 25;
  ok.batch_floor_share = 0;
  EXPECT_TRUE(resolve_engine_defaults(ok, tiny));
  for (double bad : {-1.0, std::nan("")}) {
    EngineConfig c;
    c.itl_target_ms = bad;
    const auto st = resolve_engine_defaults(c, tiny);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("--itl-target-ms"), std::string::npos);
  }
  for (double bad : {-0.1, 0.6}) {
    EngineConfig c;
    c.batch_floor_share = bad;
    const auto st = resolve_engine_defaults(c, tiny);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("--batch-floor-share"), std::string::npos);
  }
  for (double bad : {std::nan(""), 1e6}) {
    EngineConfig c;
    c.batch_step_share = bad;
    const auto st = resolve_engine_defaults(c, tiny);
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message.find("--batch-step-share"), std::string::npos);
  }
  for (double fine : {0.0, -1.0, 1000.0}) {
    ok.batch_step_share = fine;
    EXPECT_TRUE(resolve_engine_defaults(ok, tiny));
  }
}

// --isa: every level this CPU has and "auto" pass; an unknown name and a level the CPU lacks are
// refused with a message naming the flag.
TEST(EngineConfigTest, IsaMustNameALevelThisCpuHas) {
  const model::ModelConfig tiny = *model::preset_config("tiny");
  for (const char* name : {"auto", "portable", "avx2", "avx512"}) {
    EngineConfig c;
    c.isa = name;
    const bool supported = model::parse_isa(name).ok();
    EXPECT_EQ(resolve_engine_defaults(c, tiny).ok(), supported) << name;
  }
  EngineConfig bad;
  bad.isa = "neon";
  const Status st = resolve_engine_defaults(bad, tiny);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("--isa"), std::string::npos) << st.error().message;
}

// --q8-activations: int8 (the default) and float reach the model's limits; anything else is refused
// naming the flag.
TEST(EngineConfigTest, Q8ActivationsAreInt8OrFloat) {
  const model::ModelConfig tiny = *model::preset_config("tiny");
  EngineConfig c;
  c.weights = "q8";
  ASSERT_TRUE(resolve_engine_defaults(c, tiny).ok());
  EXPECT_EQ(runtime_limits(c).q8_activations, model::Q8Activations::kInt8);
  c.q8_activations = "float";
  ASSERT_TRUE(resolve_engine_defaults(c, tiny).ok());
  EXPECT_EQ(runtime_limits(c).q8_activations, model::Q8Activations::kFloat);
  c.q8_activations = "fp32";
  const Status st = resolve_engine_defaults(c, tiny);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("--q8-activations"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace ladle::scheduler
