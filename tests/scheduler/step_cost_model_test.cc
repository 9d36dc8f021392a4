// StepCostModel: fits step time = fixed + per_token × tokens from observations, keeps its slope
// through runs of equal-sized steps, follows a change of speed, and inverts the fit.
#include "scheduler/step_cost_model.h"

#include <gtest/gtest.h>

namespace ladle::scheduler {
namespace {

TEST(StepCostModel, NotReadyUntilEnoughSteps) {
  StepCostModel m;
  for (int i = 1; i < StepCostModel::kMinSteps; ++i) m.observe(i * 8, 0.001 * i);
  EXPECT_FALSE(m.predict(10).has_value());
  EXPECT_FALSE(m.tokens_within(0.01).has_value());
  m.observe(64, 0.01);
  EXPECT_TRUE(m.tokens_within(0.01).has_value());
}

TEST(StepCostModel, FitsALinearCostExactly) {
  StepCostModel m;
  for (int tokens : {1, 8, 64, 3, 200, 17}) m.observe(tokens, 0.002 + 0.0001 * tokens);
  EXPECT_NEAR(m.fixed_seconds(), 0.002, 1e-9);
  EXPECT_NEAR(m.seconds_per_token(), 0.0001, 1e-12);
  EXPECT_NEAR(*m.predict(100), 0.012, 1e-9);
  EXPECT_EQ(*m.tokens_within(0.01205), 100);
  EXPECT_EQ(*m.tokens_within(0.0019), 0);  // below the fixed cost
}

// A steady decode load (every step 8 tokens) says nothing about the slope: it is kept, and the
// fixed part follows the times.
TEST(StepCostModel, EqualSizedStepsKeepTheSlope) {
  StepCostModel m;
  for (int tokens : {1, 8, 64, 3, 200, 17}) m.observe(tokens, 0.002 + 0.0001 * tokens);
  for (int i = 0; i < 500; ++i) m.observe(8, 0.0028);
  EXPECT_NEAR(m.seconds_per_token(), 0.0001, 1e-9);
  EXPECT_NEAR(m.fixed_seconds(), 0.002, 1e-9);
  for (int i = 0; i < 500; ++i) m.observe(8, 0.0038);  // the machine got busier
  EXPECT_GT(m.seconds_per_token(), 0);
  EXPECT_NEAR(*m.predict(8), 0.0038, 1e-6);
}

TEST(StepCostModel, FollowsAChangeOfSpeed) {
  StepCostModel m;
  for (int i = 0; i < 100; ++i)
    for (int tokens : {1, 16, 64}) m.observe(tokens, 0.001 + 0.0001 * tokens);
  for (int i = 0; i < 300; ++i)
    for (int tokens : {1, 16, 64}) m.observe(tokens, 0.001 + 0.0003 * tokens);
  EXPECT_NEAR(m.seconds_per_token(), 0.0003, 1e-6);
}

TEST(StepCostModel, WithoutSpreadCostIsProportional) {
  StepCostModel m;
  for (int i = 0; i < 10; ++i) m.observe(10, 0.005);
  EXPECT_EQ(m.fixed_seconds(), 0);
  EXPECT_NEAR(m.seconds_per_token(), 0.0005, 1e-12);
}

// Steps that scatter ±1 ms around the fit: the budget keeps two standard deviations (2 ms) free.
TEST(StepCostModel, ScatterAroundTheFitShrinksTheBudget) {
  StepCostModel m;
  for (int i = 0; i < 400; ++i)
    for (int tokens : {10, 50, 90}) m.observe(tokens, 0.002 + 0.0001 * tokens + (i % 2 ? 0.001 : -0.001));
  EXPECT_NEAR(m.scatter_seconds(), 0.001, 1e-4);
  EXPECT_NEAR(m.seconds_per_token(), 0.0001, 1e-6);
  const int n = *m.tokens_within(0.0101);  // (10.1 - 2 - 2) / 0.1 = 61 tokens, not 81
  EXPECT_GE(n, 59);
  EXPECT_LE(n, 63);
}

TEST(StepCostModel, IgnoresMeaninglessObservations) {
  StepCostModel m;
  m.observe(0, 0.01);
  m.observe(5, -1);
  m.observe(5, 0);
  EXPECT_EQ(m.num_observations(), 0);
}

}  // namespace
}  // namespace ladle::scheduler
