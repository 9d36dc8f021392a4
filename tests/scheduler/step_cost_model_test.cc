// StepCostModel: fits step time = fixed + per_token × tokens + per_sampled_row × sampled rows from
// observations, keeps its slopes through runs of equal-sized steps and tells a row from a token
// only when the steps let it, follows a change of speed, and inverts the fit. Steps with one
// sampled row each (a prompt chunk) are the one-slope model.
#include "scheduler/step_cost_model.h"

#include <gtest/gtest.h>

#include <utility>

namespace ladle::scheduler {
namespace {

TEST(StepCostModel, NotReadyUntilEnoughSteps) {
  StepCostModel m;
  for (int i = 1; i < StepCostModel::kMinSteps; ++i) m.observe(i * 8, 1, 0.001 * i);
  EXPECT_FALSE(m.predict(10, 1).has_value());
  EXPECT_FALSE(m.tokens_within(0.01, 1).has_value());
  m.observe(64, 1, 0.01);
  EXPECT_TRUE(m.tokens_within(0.01, 1).has_value());
}

TEST(StepCostModel, FitsALinearCostExactly) {
  StepCostModel m;
  for (int tokens : {1, 8, 64, 3, 200, 17}) m.observe(tokens, 1, 0.002 + 0.0001 * tokens);
  EXPECT_NEAR(m.fixed_seconds(), 0.002, 1e-9);
  EXPECT_NEAR(m.seconds_per_token(), 0.0001, 1e-12);
  EXPECT_NEAR(*m.predict(100, 1), 0.012, 1e-9);
  EXPECT_EQ(*m.tokens_within(0.01205, 1), 100);
  EXPECT_EQ(*m.tokens_within(0.0019, 1), 0);  // below the fixed cost
}

// A steady decode load (every step 8 tokens) says nothing about the slope: it is kept, and the
// fixed part follows the times.
TEST(StepCostModel, EqualSizedStepsKeepTheSlope) {
  StepCostModel m;
  for (int tokens : {1, 8, 64, 3, 200, 17}) m.observe(tokens, 1, 0.002 + 0.0001 * tokens);
  for (int i = 0; i < 500; ++i) m.observe(8, 1, 0.0028);
  EXPECT_NEAR(m.seconds_per_token(), 0.0001, 1e-9);
  EXPECT_NEAR(m.fixed_seconds(), 0.002, 1e-9);
  for (int i = 0; i < 500; ++i) m.observe(8, 1, 0.0038);  // the machine got busier
  EXPECT_GT(m.seconds_per_token(), 0);
  EXPECT_NEAR(*m.predict(8, 1), 0.0038, 1e-6);
}

TEST(StepCostModel, FollowsAChangeOfSpeed) {
  StepCostModel m;
  for (int i = 0; i < 100; ++i)
    for (int tokens : {1, 16, 64}) m.observe(tokens, 1, 0.001 + 0.0001 * tokens);
  for (int i = 0; i < 300; ++i)
    for (int tokens : {1, 16, 64}) m.observe(tokens, 1, 0.001 + 0.0003 * tokens);
  EXPECT_NEAR(m.seconds_per_token(), 0.0003, 1e-6);
}

TEST(StepCostModel, WithoutSpreadCostIsProportional) {
  StepCostModel m;
  for (int i = 0; i < 10; ++i) m.observe(10, 1, 0.005);
  EXPECT_EQ(m.fixed_seconds(), 0);
  EXPECT_NEAR(m.seconds_per_token(), 0.0005, 1e-12);
}

// Steps that scatter ±1 ms around the fit: the budget keeps two standard deviations (2 ms) free.
TEST(StepCostModel, ScatterAroundTheFitShrinksTheBudget) {
  StepCostModel m;
  for (int i = 0; i < 400; ++i)
    for (int tokens : {10, 50, 90}) m.observe(tokens, 1, 0.002 + 0.0001 * tokens + (i % 2 ? 0.001 : -0.001));
  EXPECT_NEAR(m.scatter_seconds(), 0.001, 1e-4);
  EXPECT_NEAR(m.seconds_per_token(), 0.0001, 1e-6);
  const int n = *m.tokens_within(0.0101, 1);  // (10.1 - 2 - 2) / 0.1 = 61 tokens, not 81
  EXPECT_GE(n, 59);
  EXPECT_LE(n, 63);
}

TEST(StepCostModel, IgnoresMeaninglessObservations) {
  StepCostModel m;
  m.observe(0, 0, 0.01);
  m.observe(5, 1, -1);
  m.observe(5, 1, 0);
  m.observe(5, 6, 0.01);  // more sampled rows than tokens
  m.observe(5, -1, 0.01);
  EXPECT_EQ(m.num_observations(), 0);
}

// 2 ms a step, 0.1 ms a token, 0.3 ms more a sampled row.
double row_cost(int tokens, int rows) { return 0.002 + 0.0001 * tokens + 0.0003 * rows; }

// Decode steps (every token a row) and steps with prompt chunks (many tokens, few rows).
void observe_mixed_steps(StepCostModel& m) {
  for (const auto& [tokens, rows] : {std::pair{1, 1}, {8, 8}, {64, 1}, {3, 3}, {200, 2}, {40, 8}, {12, 12}, {17, 9}})
    m.observe(tokens, rows, row_cost(tokens, rows));
}

TEST(StepCostModel, TellsASampledRowFromAToken) {
  StepCostModel m;
  observe_mixed_steps(m);
  EXPECT_NEAR(m.fixed_seconds(), 0.002, 1e-9);
  EXPECT_NEAR(m.seconds_per_token(), 0.0001, 1e-11);
  EXPECT_NEAR(m.seconds_per_sampled_row(), 0.0003, 1e-11);
  EXPECT_NEAR(*m.predict(10, 10), 0.006, 1e-9);   // ten decodes
  EXPECT_NEAR(*m.predict(10, 1), 0.0033, 1e-9);   // a ten-token prompt chunk
  EXPECT_EQ(*m.tokens_within(0.00605, 10), 10);   // (6.05 - 2 - 3) / 0.1
  EXPECT_EQ(*m.tokens_within(0.01235, 1), 100);   // (12.35 - 2 - 0.3) / 0.1
  EXPECT_EQ(*m.tokens_within(0.0049, 10), 0);     // the rows alone overrun it
}

// Steps that are all decodes (tokens = rows) cannot tell a row from a token: the row cost is kept
// and their combined slope, less it, is the token's; a slower machine is still followed.
TEST(StepCostModel, DecodeOnlyStepsKeepTheRowCost) {
  StepCostModel m;
  observe_mixed_steps(m);
  for (int i = 0; i < 500; ++i)
    for (int n : {4, 8, 12}) m.observe(n, n, row_cost(n, n));
  EXPECT_NEAR(m.seconds_per_sampled_row(), 0.0003, 1e-9);
  EXPECT_NEAR(m.seconds_per_token(), 0.0001, 1e-9);
  EXPECT_NEAR(*m.predict(40, 1), 0.0063, 1e-7);  // a prompt chunk still costs what it did
  for (int i = 0; i < 500; ++i)
    for (int n : {4, 8, 12}) m.observe(n, n, 1.5 * row_cost(n, n));  // the machine got busier
  for (int n : {4, 8, 12}) EXPECT_NEAR(*m.predict(n, n), 1.5 * row_cost(n, n), 1e-7) << n;
}

}  // namespace
}  // namespace ladle::scheduler
