#include "server/client_telemetry.h"

#include <cmath>
#include <utility>

#include "server/json_fields.h"
#include "server/metrics.h"

namespace ladle::server {
namespace {

// A finite number in [0, max] milliseconds, as seconds; `param` names it in the error.
std::variant<double, ApiError> read_ms(const json& v, const std::string& param, double max) {
  if (!v.is_number()) return invalid_param(param, param + " must be a number of milliseconds");
  const double ms = v.get<double>();
  if (!std::isfinite(ms) || ms < 0 || ms > max)
    return invalid_param(param, param + " must be in [0, " + std::to_string(static_cast<long long>(max)) + "] ms");
  return ms / 1000.0;
}

}  // namespace

ClientTelemetry::ClientTelemetry(Metrics* metrics, std::function<bool(std::string_view)> issued)
    : metrics_(metrics), issued_(std::move(issued)) {}

std::variant<TelemetryReport, ApiError> ClientTelemetry::parse(std::string_view body) {
  if (body.size() > kMaxBodyBytes)
    return ApiError{413, "a telemetry report is at most " + std::to_string(kMaxBodyBytes) + " bytes",
                    "invalid_request_error", "", "body_too_large"};
  ApiError error;
  auto j = parse_object(body, error);
  if (!j) return error;
  for (const auto& [key, value] : j->items())
    if (key != "response_id" && key != "first_paint_ms" && key != "render_delay_ms")
      return invalid_param(key, "Unrecognized telemetry field: " + key);
  TelemetryReport report;
  auto id = j->find("response_id");
  if (id == j->end() || !id->is_string() || id->get_ref<const std::string&>().empty() ||
      id->get_ref<const std::string&>().size() > 128)
    return invalid_param("response_id", "response_id must be the id of a response (a string of 1 to 128 bytes)");
  report.response_id = id->get<std::string>();
  auto paint = j->find("first_paint_ms");
  if (paint == j->end()) return invalid_param("first_paint_ms", "first_paint_ms is required");
  auto first = read_ms(*paint, "first_paint_ms", kMaxFirstPaintMs);
  if (auto* e = std::get_if<ApiError>(&first)) return *e;
  report.first_paint = std::get<double>(first);
  if (auto delays = j->find("render_delay_ms"); delays != j->end()) {
    if (!delays->is_array() || delays->size() > kMaxSamples)
      return invalid_param("render_delay_ms", "render_delay_ms must be an array of at most " +
                                                  std::to_string(kMaxSamples) + " numbers");
    for (const auto& v : *delays) {
      auto d = read_ms(v, "render_delay_ms", kMaxRenderDelayMs);
      if (auto* e = std::get_if<ApiError>(&d)) return *e;
      report.render_delays.push_back(std::get<double>(d));
    }
  }
  return report;
}

std::optional<ApiError> ClientTelemetry::record(std::string_view body) {
  auto parsed = parse(body);
  std::optional<ApiError> error;
  if (auto* e = std::get_if<ApiError>(&parsed)) error = *e;
  const TelemetryReport* report = std::get_if<TelemetryReport>(&parsed);
  if (!error && !issued_(report->response_id))
    error = invalid_param("response_id", "'" + report->response_id + "' is not a response of this server");
  if (!error) error = count_report(report->response_id);
  if (metrics_) {
    if (error) metrics_->on_client_report_rejected();
    else metrics_->on_client_report(report->first_paint, report->render_delays);
  }
  return error;
}

std::optional<ApiError> ClientTelemetry::count_report(const std::string& id) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = reports_.try_emplace(id, 0);
  if (inserted) {
    order_.push_back(id);
    if (order_.size() > kRememberedIds) {
      reports_.erase(order_.front());
      order_.pop_front();
    }
  }
  if (it->second >= kMaxReportsPerId) {
    ApiError e = invalid_param("response_id", "response '" + id + "' was already reported " +
                                                  std::to_string(kMaxReportsPerId) + " times");
    e.code = "too_many_reports";
    return e;
  }
  ++it->second;
  return std::nullopt;
}

}  // namespace ladle::server
