// ClientTelemetry: POST /v1/telemetry — what a browser perceived of one answer, reported by the
// built-in page (or any client) and exported beside the server's own figures:
//   {"response_id": "chatcmpl-…" (an id this server issued), "first_paint_ms": 123.4 (request sent
//    → first answer text painted), "render_delay_ms": [3.1, 7.9, …] (per painted chunk: arrival
//    → paint)}  → 204, histograms ladle_client_first_paint_seconds and
//   ladle_client_render_delay_seconds.
//
// NOTE(telemetry): the endpoint is public input into the server's metrics, so everything is
// bounded: the body (kMaxBodyBytes), the samples per report (kMaxSamples), each value's range, the
// reports per response id (kMaxReportsPerId) and the ids remembered for that count (the last
// kRememberedIds, oldest forgotten first); ids must be ones this server handed out. Whatever
// fails is a 400 in OpenAI's error shape and counts as
// ladle_client_telemetry_reports_total{result="rejected"}; nothing of it is observed.
//
// Ownership: Server owns one unless --no-client-telemetry (then the route answers 404).
// Threads: record() may be called from any I/O thread (a mutex guards the id memory).
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "server/api_error.h"

namespace ladle::server {

class Metrics;

// One validated report (values in seconds).
struct TelemetryReport {
  std::string response_id;
  double first_paint = 0;
  std::vector<double> render_delays;
};

class ClientTelemetry {
 public:
  static constexpr std::size_t kMaxBodyBytes = 16 * 1024;
  static constexpr std::size_t kMaxSamples = 512;
  static constexpr int kMaxReportsPerId = 2;
  static constexpr std::size_t kRememberedIds = 4096;
  static constexpr double kMaxFirstPaintMs = 600'000;  // 10 minutes
  static constexpr double kMaxRenderDelayMs = 60'000;

  // `metrics` may be null (tests); `issued` says whether the server handed out an id.
  ClientTelemetry(Metrics* metrics, std::function<bool(std::string_view)> issued);

  // Parses and checks one report: size, fields (unknown ones refused by name), types, ranges.
  static std::variant<TelemetryReport, ApiError> parse(std::string_view body);

  // parse(), the id's origin and its report count; on success the values are observed.
  std::optional<ApiError> record(std::string_view body);

 private:
  std::optional<ApiError> count_report(const std::string& id);

  Metrics* const metrics_;
  const std::function<bool(std::string_view)> issued_;
  std::mutex mu_;
  std::unordered_map<std::string, int> reports_;  // GUARDED_BY(mu_): reports per remembered id
  std::deque<std::string> order_;                 // GUARDED_BY(mu_): remembered ids, oldest first
};

}  // namespace ladle::server
