// vLLM's `priority` extension on every generation endpoint (completions, chat, Responses,
// Anthropic messages): an integer reaches GenerationRequest::priority of an interactive request;
// anything else is a 400 naming the field.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <variant>

#include "server/handlers.h"
#include "tests/testing/fake_engine.h"

namespace ladle::server {
namespace {

using scheduler::GenerationRequest;

// The request a body prepares into, or the error.
std::variant<GenerationRequest, ApiError> prepare(const scheduler::Engine& engine, const std::string& endpoint,
                                                  const std::string& extra) {
  auto pick = [](auto job) -> std::variant<GenerationRequest, ApiError> {
    return std::visit(
        [](auto& j) -> std::variant<GenerationRequest, ApiError> {
          if constexpr (std::is_same_v<std::decay_t<decltype(j)>, ApiError>) return j;
          else return j.request;
        },
        job);
  };
  if (endpoint == "completions")
    return pick(prepare_generation(engine, R"({"prompt":"ab","max_tokens":2)" + extra + "}", Endpoint::kCompletions, "c", 0));
  if (endpoint == "chat")
    return pick(prepare_generation(engine, R"({"messages":[{"role":"user","content":"a"}])" + extra + "}",
                                   Endpoint::kChat, "c", 0));
  if (endpoint == "responses") return pick(prepare_responses(engine, R"({"input":"ab")" + extra + "}", "r", 0));
  return pick(prepare_messages(engine, R"({"model":"m","max_tokens":2,"messages":[{"role":"user","content":"a"}])" +
                                           extra + "}",
                               "msg", "req"));
}

class PriorityField : public ::testing::TestWithParam<std::string> {};

TEST_P(PriorityField, AnIntegerBecomesTheRequestsPriority) {
  testing::FakeEngine engine;
  for (const auto& [extra, want] : {std::pair<std::string, int>{"", 0},
                                    {R"(,"priority":-3)", -3},
                                    {R"(,"priority":7)", 7},
                                    {R"(,"priority":2.0)", 2},
                                    {R"(,"priority":null)", 0}}) {
    auto got = prepare(engine, GetParam(), extra);
    ASSERT_TRUE(std::holds_alternative<GenerationRequest>(got)) << extra << ": " << std::get<ApiError>(got).message;
    const auto& r = std::get<GenerationRequest>(got);
    EXPECT_EQ(r.priority, want) << extra;
    EXPECT_EQ(r.request_class, scheduler::RequestClass::kInteractive);
  }
}

TEST_P(PriorityField, AnythingElseIsA400NamingIt) {
  testing::FakeEngine engine;
  for (const std::string extra : {R"(,"priority":"high")", R"(,"priority":1.5)", R"(,"priority":true)",
                                  R"(,"priority":[1])", R"(,"priority":1e12)"}) {
    auto got = prepare(engine, GetParam(), extra);
    ASSERT_TRUE(std::holds_alternative<ApiError>(got)) << extra;
    EXPECT_EQ(std::get<ApiError>(got).status, 400) << extra;
    EXPECT_EQ(std::get<ApiError>(got).param, "priority") << extra;
  }
}

INSTANTIATE_TEST_SUITE_P(Endpoints, PriorityField, ::testing::Values("completions", "chat", "responses", "messages"));

}  // namespace
}  // namespace ladle::server
