// isa: names parse to levels, unknown names and levels this CPU lacks are refused with a message
// naming the problem, the active level follows set_active_isa and ScopedIsa, and the kernels
// dispatch on it (a matmul at each supported level runs that level's kernel: same bits, checked
// in matmul_test).
#include "model/isa.h"

#include <gtest/gtest.h>

namespace ladle::model {
namespace {

TEST(Isa, ParsesEveryNameAndAuto) {
  for (Isa isa : supported_isas()) {
    auto parsed = parse_isa(isa_name(isa));
    ASSERT_TRUE(parsed.ok()) << isa_name(isa);
    EXPECT_EQ(*parsed, isa);
  }
  auto best = parse_isa("auto");
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(*best, best_isa());
}

TEST(Isa, RefusesUnknownNames) {
  auto bad = parse_isa("sse9");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'sse9'"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(parse_isa("").ok());
  EXPECT_FALSE(parse_isa("AVX2").ok());
}

TEST(Isa, RefusesALevelThisCpuLacks) {
  if (best_isa() == Isa::kAvx512) GTEST_SKIP() << "this CPU has every level (avx512): nothing to refuse";
  const Isa missing = best_isa() == Isa::kAvx2 ? Isa::kAvx512 : Isa::kAvx2;
  const Isa before = active_isa();
  auto parsed = parse_isa(isa_name(missing));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("does not support"), std::string::npos) << parsed.error().message;
  EXPECT_FALSE(set_active_isa(missing).ok());
  EXPECT_EQ(active_isa(), before);
}

TEST(Isa, SupportedLevelsStartWithPortableAndEndWithTheBest) {
  const auto levels = supported_isas();
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.front(), Isa::kPortable);
  EXPECT_EQ(levels.back(), best_isa());
  for (Isa isa : levels) EXPECT_TRUE(cpu_supports(isa));
}

TEST(Isa, ActiveLevelDefaultsToTheBestAndFollowsScopes) {
  EXPECT_EQ(active_isa(), best_isa());
  {
    ScopedIsa portable(Isa::kPortable);
    EXPECT_EQ(active_isa(), Isa::kPortable);
  }
  EXPECT_EQ(active_isa(), best_isa());
  ASSERT_TRUE(set_active_isa(Isa::kPortable).ok());
  EXPECT_EQ(active_isa(), Isa::kPortable);
  ASSERT_TRUE(set_active_isa(best_isa()).ok());
}

}  // namespace
}  // namespace ladle::model
