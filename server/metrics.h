// Metrics: every Prometheus series ladle exports, defined in one place (metrics.cc) on a
// prometheus-cpp Registry and rendered by its TextSerializer — nothing is hand-formatted.
//
// Ownership: `ladle serve` creates one Metrics before the engine, passes it to
// LlmEngine::create() as the EngineObserver (so it must outlive the engine) and serves
// serialize() on GET /metrics of its own port.
//
// Threads: every method may be called from any thread at any time. The EngineObserver overrides
// run on the engine's step thread and cost a few atomic operations plus, for histograms,
// prometheus-cpp's per-histogram mutex (uncontended except during a scrape); they never
// allocate. bench/metrics_bench.cc measures one step's worth of calls.
//
// Counting rules (tests/server/metrics_test.cc checks them by driving the observer as the
// engine does):
//  - A request of N generated tokens adds exactly 1 to ladle_time_to_first_token_seconds_count
//    (on_first_token), N−1 to ladle_inter_token_latency_seconds_count (on_next_token) and N to
//    ladle_generation_tokens_total (both). NOTE(metrics): the engine reports tokens one by one
//    at sampling time, so when the SSE stream merges several tokens into one delta for a slow
//    client, ITL is still observed once per token (measured at the engine, not at the socket).
//  - on_request_finished adds 1 to ladle_requests_finished_total{reason} and observes the
//    per-request histograms: e2e, queue, prompt and generation tokens always; prefill and
//    decode time only when the request produced a first token (they are undefined otherwise).
//  - Batch-class requests (issue 19) are kept out of every latency and per-request histogram
//    (TTFT, ITL, e2e, queue, prefill, decode, tokens per request): nobody waits on them, and a
//    2,000-line batch would otherwise drown the interactive percentiles. Their tokens reach
//    on_batch_token, which adds 1 to ladle_generation_tokens_total and to
//    ladle_generation_tokens_by_class_total{class="batch"} (on_first_token and on_next_token add
//    to {class="interactive"}); they count in ladle_requests_finished_total like any request.
//    ladle_requests_running{class} and ladle_requests_waiting{class} split the engine's gauges.
//  - Gauges hold exactly the values of the last on_gauges (usage ratio = used / total). The
//    arena size is ladle_kv_cache_blocks_capacity: promtool rejects a gauge named *_total.
//  - Every labelled child is created in the constructor, so all series exist at 0 from start.
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/engine.h"
#include "scheduler/engine_observer.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace ladle::server {

// The Content-Type to serve serialize() with (text exposition format 0.0.4).
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Values of the `reason` label of ladle_requests_rejected_total, in this order.
inline constexpr std::array<std::string_view, 6> kRejectReasons = {
    "invalid", "too_long", "overloaded", "unavailable", "body_too_large", "unauthorized"};

// Values of the `where` label of ladle_internal_errors_total, in this order: an exception that
// escaped a handler on an I/O thread (caught around io_context::run), the engine's step thread
// (the step's requests end with an error), a handler on the batch runner's threads
// (server/batch_runner.h, caught around its io_context::run), or an endpoint handler (the
// router's 500; last: anything unknown counts here).
inline constexpr std::array<std::string_view, 4> kInternalErrorPlaces = {"io_thread", "step_thread", "batch_thread",
                                                                         "handler"};

// Values of the `class` label (scheduler::RequestClass), in this order.
inline constexpr std::array<std::string_view, 2> kRequestClasses = {"interactive", "batch"};

class Metrics final : public scheduler::EngineObserver {
 public:
  // Registers every family and pre-creates every labelled child (all at 0).
  // ladle_build_info{version=LADLE_VERSION} is set to 1 here.
  Metrics();
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Publishes the model's shape and the kernels' ISA level as
  // ladle_model_info{model,vocab_size,...,isa} = 1 (replacing any earlier one) and sets
  // ladle_kv_cache_blocks_capacity from info.kv_blocks_total.
  void set_model_info(const scheduler::ModelInfo& info);

  // The whole registry in the Prometheus text exposition format 0.0.4
  // (Content-Type: text/plain; version=0.0.4; charset=utf-8).
  std::string serialize() const;

  // A streaming client went away before its request finished (counted by the server; the engine
  // reports the resulting cancellation separately as finished{reason="cancelled"}).
  void on_client_disconnect();

  // Background responses (server/background_store.h): started/finished move the running gauge;
  // the store sets how many it keeps; a GET stream of one is a resume, and its replayed events
  // are counted.
  void on_background_started();
  void on_background_finished();
  void set_background_stored(int n);
  void on_background_resume();
  void on_background_replayed(int events);
  // The Batches API (server/batch_runner.h): lines queued (waiting to start) and running in the
  // engine; a line's committed result (failed: it went to the error file); how many batches are in
  // each status (indexed by BatchStatus, as BatchStore::count_by_status returns them).
  void set_batch_lines(int queued, int running);
  void on_batch_line_done(bool failed);
  void set_batches(const std::vector<int>& by_status);

  // accept() failed on the listening socket (out of file descriptors, ...): ladle_accept_errors_total.
  void on_accept_error();

  // Client telemetry (server/client_telemetry.h): an accepted report's first-paint time and render
  // delays, in seconds, observed into ladle_client_first_paint_seconds and
  // ladle_client_render_delay_seconds; or a refused report (counted, nothing observed).
  void on_client_report(double first_paint, std::span<const double> render_delays);
  void on_client_report_rejected();

  // The engine's gauges as the last on_gauges set them (for GET /v1/server-state).
  struct Live {
    double running = 0, waiting = 0, kv_blocks_used = 0, kv_blocks_capacity = 0, kv_usage = 0;
  };
  Live live() const;

  // The server refused a request before it reached the engine. `reason` should be one of
  // kRejectReasons; anything else is counted as "invalid" (labels stay a closed set).
  void on_http_rejected(std::string_view reason);

  // An exception was contained at `where` (one of kInternalErrorPlaces; anything else counts as
  // "handler"): ladle_internal_errors_total{where}.
  void on_internal_error(std::string_view where);

  // --- scheduler::EngineObserver (engine step thread; see the counting rules above) ---
  // kInvalidArgument → too_long, kResourceExhausted → overloaded, kUnavailable → unavailable,
  // any other code → invalid.
  void on_request_rejected(ErrorCode code) override;
  void on_first_token(RequestId id, double ttft) override;
  void on_next_token(RequestId id, double gap) override;
  void on_batch_token(RequestId id) override;
  void on_request_finished(const scheduler::RequestStats& stats) override;
  void on_step(const scheduler::StepStats& step, const scheduler::CounterDeltas& counters) override;
  void on_gauges(const scheduler::EngineGauges& gauges) override;
  // Counts where="step_thread".
  void on_step_failed(std::string_view what) override;

 private:
  void register_request_metrics();
  void register_engine_metrics();
  void register_server_metrics();
  void register_client_metrics();
  void count_rejection(std::size_t reason_index);

  std::unique_ptr<prometheus::Registry> registry_;

  // Request histograms and counters. All pointers refer to children owned by registry_.
  prometheus::Histogram* ttft_ = nullptr;
  prometheus::Histogram* itl_ = nullptr;
  prometheus::Histogram* e2e_ = nullptr;
  prometheus::Histogram* queue_time_ = nullptr;
  prometheus::Histogram* prefill_time_ = nullptr;
  prometheus::Histogram* decode_time_ = nullptr;
  prometheus::Histogram* request_prompt_tokens_ = nullptr;
  prometheus::Histogram* request_generation_tokens_ = nullptr;
  prometheus::Counter* prompt_tokens_total_ = nullptr;
  prometheus::Counter* generation_tokens_total_ = nullptr;
  std::array<prometheus::Counter*, kRequestClasses.size()> generation_tokens_by_class_{};  // by kRequestClasses
  std::array<prometheus::Counter*, 4> finished_{};  // indexed by scheduler::FinishReason
  std::array<prometheus::Counter*, kRejectReasons.size()> rejected_{};

  // Engine step metrics.
  prometheus::Histogram* step_duration_ = nullptr;
  prometheus::Histogram* decode_step_duration_ = nullptr;  // steps with no prompt token
  prometheus::Histogram* step_batch_tokens_ = nullptr;
  prometheus::Counter* prefix_queries_total_ = nullptr;
  prometheus::Counter* prefix_hits_total_ = nullptr;
  prometheus::Counter* preemptions_total_ = nullptr;
  prometheus::Gauge* num_running_ = nullptr;
  prometheus::Gauge* num_waiting_ = nullptr;
  std::array<prometheus::Gauge*, kRequestClasses.size()> running_by_class_{};  // by kRequestClasses
  std::array<prometheus::Gauge*, kRequestClasses.size()> waiting_by_class_{};
  prometheus::Gauge* kv_blocks_used_ = nullptr;
  prometheus::Gauge* kv_blocks_cached_ = nullptr;
  prometheus::Gauge* kv_blocks_total_ = nullptr;
  prometheus::Gauge* kv_usage_ratio_ = nullptr;

  // Server-side series.
  prometheus::Counter* client_disconnects_total_ = nullptr;
  prometheus::Gauge* background_running_ = nullptr;
  prometheus::Gauge* background_stored_ = nullptr;
  prometheus::Counter* background_resumes_total_ = nullptr;
  prometheus::Counter* background_replayed_total_ = nullptr;
  std::array<prometheus::Counter*, kInternalErrorPlaces.size()> internal_errors_{};
  prometheus::Counter* accept_errors_total_ = nullptr;
  prometheus::Gauge* batch_lines_waiting_ = nullptr;
  prometheus::Gauge* batch_lines_running_ = nullptr;
  prometheus::Counter* batch_lines_done_ = nullptr;
  prometheus::Counter* batch_lines_failed_ = nullptr;
  std::array<prometheus::Gauge*, 8> batches_{};  // by BatchStatus
  prometheus::Family<prometheus::Gauge>* model_info_family_ = nullptr;

  // Client telemetry.
  prometheus::Histogram* client_first_paint_ = nullptr;
  prometheus::Histogram* client_render_delay_ = nullptr;
  prometheus::Counter* client_reports_accepted_ = nullptr;
  prometheus::Counter* client_reports_rejected_ = nullptr;

  std::mutex model_info_mu_;
  prometheus::Gauge* model_info_ = nullptr;  // GUARDED_BY(model_info_mu_)
};

}  // namespace ladle::server
