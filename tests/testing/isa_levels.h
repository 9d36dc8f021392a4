// IsaLevelTest: a value-parameterised gtest fixture that runs its tests once per ISA level of
// model/isa.h (portable, avx2, avx512) with that level active, skipping — with a message saying
// so — the levels this CPU lacks. Instantiate with LADLE_INSTANTIATE_ISA_LEVELS(Fixture).
#pragma once

#include <gtest/gtest.h>

#include <optional>

#include "model/isa.h"

namespace ladle::testing {

class IsaLevelTest : public ::testing::TestWithParam<model::Isa> {
 protected:
  void SetUp() override {
    if (!model::cpu_supports(GetParam()))
      GTEST_SKIP() << "this CPU has no " << model::isa_name(GetParam()) << " (best: "
                   << model::isa_name(model::best_isa()) << "), so that path is not checked here";
    level_.emplace(GetParam());
  }
  void TearDown() override { level_.reset(); }

 private:
  std::optional<model::ScopedIsa> level_;
};

inline std::string isa_param_name(const ::testing::TestParamInfo<model::Isa>& info) {
  return model::isa_name(info.param);
}

}  // namespace ladle::testing

#define LADLE_INSTANTIATE_ISA_LEVELS(fixture)                                                            \
  INSTANTIATE_TEST_SUITE_P(Isa, fixture,                                                                 \
                           ::testing::Values(::ladle::model::Isa::kPortable, ::ladle::model::Isa::kAvx2, \
                                             ::ladle::model::Isa::kAvx512),                              \
                           ::ladle::testing::isa_param_name)
