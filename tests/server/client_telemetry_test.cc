// ClientTelemetry: what POST /v1/telemetry accepts and refuses, its bounds, and what it exports.
#include "server/client_telemetry.h"

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "server/metrics.h"

namespace ladle::server {
namespace {

using nlohmann::json;

// The value of the exposition line that starts with `series ` (-1 when absent).
double sample(const Metrics& m, const std::string& series) {
  const std::string text = m.serialize();
  const std::size_t at = text.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
}

std::string report(const std::string& id, double first_paint, json delays = json::array({4.0, 12.5})) {
  return json{{"response_id", id}, {"first_paint_ms", first_paint}, {"render_delay_ms", delays}}.dump();
}

TEST(ClientTelemetryTest, AcceptedReportsAreObserved) {
  Metrics metrics;
  ClientTelemetry telemetry(&metrics, [](std::string_view id) { return id == "chatcmpl-1"; });
  EXPECT_FALSE(telemetry.record(report("chatcmpl-1", 250)).has_value());
  EXPECT_EQ(sample(metrics, "ladle_client_first_paint_seconds_count"), 1);
  EXPECT_DOUBLE_EQ(sample(metrics, "ladle_client_first_paint_seconds_sum"), 0.25);
  EXPECT_EQ(sample(metrics, "ladle_client_render_delay_seconds_count"), 2);
  EXPECT_DOUBLE_EQ(sample(metrics, "ladle_client_render_delay_seconds_sum"), 0.0165);
  EXPECT_EQ(sample(metrics, "ladle_client_render_delay_seconds_bucket{le=\"0.004\"}"), 1);
  EXPECT_EQ(sample(metrics, "ladle_client_telemetry_reports_total{result=\"accepted\"}"), 1);
}

TEST(ClientTelemetryTest, BadInputIsA400NamingTheField) {
  auto param = [](const std::string& body) {
    auto r = ClientTelemetry::parse(body);
    auto* e = std::get_if<ApiError>(&r);
    return e ? std::to_string(e->status) + " " + e->param : std::string("ok");
  };
  EXPECT_EQ(param(report("a", 1)), "ok");
  EXPECT_EQ(param("{"), "400 ");
  EXPECT_EQ(param("[1]"), "400 ");
  EXPECT_EQ(param(R"({"first_paint_ms": 1})"), "400 response_id");
  EXPECT_EQ(param(R"({"response_id": 7, "first_paint_ms": 1})"), "400 response_id");
  EXPECT_EQ(param(report(std::string(129, 'x'), 1)), "400 response_id");
  EXPECT_EQ(param(R"({"response_id": "a"})"), "400 first_paint_ms");
  EXPECT_EQ(param(report("a", -1)), "400 first_paint_ms");
  EXPECT_EQ(param(report("a", 600'001)), "400 first_paint_ms");
  EXPECT_EQ(param(R"({"response_id": "a", "first_paint_ms": "5"})"), "400 first_paint_ms");
  EXPECT_EQ(param(report("a", 1, json::array({1, -0.5}))), "400 render_delay_ms");
  EXPECT_EQ(param(report("a", 1, json::array({60'001}))), "400 render_delay_ms");
  EXPECT_EQ(param(report("a", 1, json::object())), "400 render_delay_ms");
  EXPECT_EQ(param(report("a", 1, json(std::vector<double>(513, 1.0)))), "400 render_delay_ms");
  EXPECT_EQ(param(report("a", 1, json(std::vector<double>(512, 1.0)))), "ok");
  EXPECT_EQ(param(R"({"response_id": "a", "first_paint_ms": 1, "ttft": 2})"), "400 ttft");
  EXPECT_EQ(param(std::string(ClientTelemetry::kMaxBodyBytes + 1, ' ')), "413 ");
}

TEST(ClientTelemetryTest, RefusedReportsObserveNothing) {
  Metrics metrics;
  ClientTelemetry telemetry(&metrics, [](std::string_view id) { return id == "resp_1"; });
  auto e = telemetry.record(report("resp_2", 100));  // not an id of this server
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->param, "response_id");
  EXPECT_TRUE(telemetry.record(report("resp_1", -3)).has_value());
  EXPECT_EQ(sample(metrics, "ladle_client_first_paint_seconds_count"), 0);
  EXPECT_EQ(sample(metrics, "ladle_client_telemetry_reports_total{result=\"rejected\"}"), 2);
}

TEST(ClientTelemetryTest, AtMostTwoReportsPerResponse) {
  ClientTelemetry telemetry(nullptr, [](std::string_view) { return true; });
  EXPECT_FALSE(telemetry.record(report("resp_1", 10)).has_value());
  EXPECT_FALSE(telemetry.record(report("resp_1", 10)).has_value());
  auto e = telemetry.record(report("resp_1", 10));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "too_many_reports");
  EXPECT_FALSE(telemetry.record(report("resp_2", 10)).has_value());
}

TEST(ClientTelemetryTest, RemembersABoundedNumberOfIds) {
  ClientTelemetry telemetry(nullptr, [](std::string_view) { return true; });
  for (int k = 0; k < ClientTelemetry::kMaxReportsPerId; ++k) ASSERT_FALSE(telemetry.record(report("first", 1)));
  ASSERT_TRUE(telemetry.record(report("first", 1)).has_value());
  // kRememberedIds newer ids push "first" out of the memory: it may report again.
  for (std::size_t k = 0; k < ClientTelemetry::kRememberedIds; ++k)
    ASSERT_FALSE(telemetry.record(report("id" + std::to_string(k), 1)).has_value());
  EXPECT_FALSE(telemetry.record(report("first", 1)).has_value());
}

}  // namespace
}  // namespace ladle::server
