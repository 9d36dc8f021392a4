// Every ladle metric family is defined in this file (see metrics.h for the counting rules).
#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <cstddef>
#include <utility>

#ifndef LADLE_VERSION
#define LADLE_VERSION "unknown"
#endif

namespace ladle::server {
namespace {

using prometheus::Histogram;

// NOTE(metrics): bucket choice. ladle runs small models on two CPU cores, where a decode step is
// ~1–100 ms and llama.cpp on the same machine shows TTFT 11 ms → 1.4 s and ITL 2 ms → 100 ms
// (shared/peers.md). Buckets are therefore dense from 0.5 ms to 100 ms — every latency
// histogram has at least four buckets below 10 ms — and roughly double after that up to the
// longest plausible value. Observe() scans buckets linearly, so each list stays ≤ 21 entries.

// Request accepted → first token: 1, 2.5, 5, 7.5 ms below 10 ms; then up to 80 s for long
// queues under overload.
const Histogram::BucketBoundaries kTtftBuckets = {
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25,
    0.5,   0.75,   1.0,   2.5,    5.0,  7.5,  10.0, 20.0, 40.0, 80.0};

// Gap between consecutive tokens: one decode step, 0.5 ms (tiny model, batch 1) to ~1 s
// (large batch with a prefill chunk interleaved); 6 buckets below 10 ms.
const Histogram::BucketBoundaries kItlBuckets = {
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03,
    0.04,   0.05,  0.075, 0.1,   0.15,  0.2,    0.3,  0.5,   1.0,  2.5};

// Whole-request phases (e2e, queue, prefill, decode): 1 ms to ~5 minutes, 4 buckets < 10 ms.
const Histogram::BucketBoundaries kRequestPhaseBuckets = {
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1,  0.25,  0.5,
    1.0,   2.5,    5.0,   10.0,   20.0, 40.0,  80.0, 160.0, 320.0};

// One engine step: 0.1 ms (a single decode on stories260K) to 1 s (a big prefill chunk).
const Histogram::BucketBoundaries kStepBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01,
    0.015,  0.02,    0.03,   0.05,  0.075, 0.1,   0.25,  0.5,    1.0};

// A browser's arrival → paint delay: a frame is 16.7 ms at 60 Hz, so buckets are dense up to two
// frames (a frame-buffered page paints within one), then sparse up to a second of a blocked
// main thread.
const Histogram::BucketBoundaries kRenderDelayBuckets = {
    0.001, 0.002, 0.004, 0.006, 0.008, 0.010, 0.0125, 0.015, 0.0175, 0.020,
    0.025, 0.0335, 0.050, 0.075, 0.1,  0.25,  0.5,    1.0};

// Token counts (per request prompt/generation, per step batch): powers of two, 1 … 32768.
Histogram::BucketBoundaries power_of_two_buckets(double max) {
  Histogram::BucketBoundaries b;
  for (double v = 1; v <= max; v *= 2) b.push_back(v);
  return b;
}

prometheus::Histogram& histogram(prometheus::Registry& r, const std::string& name,
                                 const std::string& help,
                                 const Histogram::BucketBoundaries& buckets) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add({}, buckets);
}

prometheus::Counter& counter(prometheus::Registry& r, const std::string& name,
                             const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge& gauge(prometheus::Registry& r, const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

std::size_t reject_index(std::string_view reason) {
  for (std::size_t i = 0; i < kRejectReasons.size(); ++i)
    if (kRejectReasons[i] == reason) return i;
  return 0;  // "invalid"
}

}  // namespace

Metrics::Metrics() : registry_(std::make_unique<prometheus::Registry>()) {
  register_request_metrics();
  register_engine_metrics();
  register_server_metrics();
  register_client_metrics();
}

Metrics::~Metrics() = default;

void Metrics::register_request_metrics() {
  auto& r = *registry_;
  ttft_ = &histogram(r, "ladle_time_to_first_token_seconds",
                     "Time from request accepted to its first generated token.", kTtftBuckets);
  itl_ = &histogram(r, "ladle_inter_token_latency_seconds",
                    "Time between consecutive generated tokens of a request, observed per token "
                    "at the engine.",
                    kItlBuckets);
  e2e_ = &histogram(r, "ladle_e2e_request_latency_seconds",
                    "Time from request accepted to request finished.", kRequestPhaseBuckets);
  queue_time_ = &histogram(r, "ladle_request_queue_time_seconds",
                           "Time a request waited before it was first scheduled.",
                           kRequestPhaseBuckets);
  prefill_time_ = &histogram(r, "ladle_request_prefill_time_seconds",
                             "Time from first scheduled to first token (requests that got one).",
                             kRequestPhaseBuckets);
  decode_time_ = &histogram(r, "ladle_request_decode_time_seconds",
                            "Time from first token to finish (requests that got one).",
                            kRequestPhaseBuckets);
  request_prompt_tokens_ = &histogram(r, "ladle_request_prompt_tokens",
                                      "Prompt tokens per finished request.",
                                      power_of_two_buckets(32768));
  request_generation_tokens_ = &histogram(r, "ladle_request_generation_tokens",
                                          "Generated tokens per finished request.",
                                          power_of_two_buckets(32768));
  prompt_tokens_total_ = &counter(r, "ladle_prompt_tokens_total",
                                  "Prompt tokens of requests admitted by the engine.");
  generation_tokens_total_ = &counter(r, "ladle_generation_tokens_total", "Generated tokens.");
  auto& by_class = prometheus::BuildCounter()
                       .Name("ladle_generation_tokens_by_class_total")
                       .Help("Generated tokens, by request class (interactive or batch).")
                       .Register(r);
  for (std::size_t c = 0; c < kRequestClasses.size(); ++c)
    generation_tokens_by_class_[c] = &by_class.Add({{"class", std::string(kRequestClasses[c])}});

  auto& finished = prometheus::BuildCounter()
                       .Name("ladle_requests_finished_total")
                       .Help("Requests finished by the engine, by finish reason.")
                       .Register(r);
  using scheduler::FinishReason;
  for (FinishReason reason : {FinishReason::kStop, FinishReason::kLength, FinishReason::kCancelled,
                              FinishReason::kError})
    finished_[static_cast<std::size_t>(reason)] =
        &finished.Add({{"reason", scheduler::to_string(reason)}});

  auto& rejected = prometheus::BuildCounter()
                       .Name("ladle_requests_rejected_total")
                       .Help("Requests refused before generation (by the server or at submit).")
                       .Register(r);
  for (std::size_t i = 0; i < kRejectReasons.size(); ++i)
    rejected_[i] = &rejected.Add({{"reason", std::string(kRejectReasons[i])}});
}

void Metrics::register_engine_metrics() {
  auto& r = *registry_;
  step_duration_ = &histogram(r, "ladle_step_duration_seconds",
                              "Duration of one engine step (schedule, forward, sample, update).",
                              kStepBuckets);
  // The batch's own rhythm, without the prefill chunks that make some steps several times longer:
  // the per-token time of every running stream, comparable with an offline engine's decode step.
  decode_step_duration_ = &histogram(r, "ladle_decode_step_duration_seconds",
                                     "Duration of an engine step that computed only decode tokens (no prompt).",
                                     kStepBuckets);
  step_batch_tokens_ = &histogram(r, "ladle_step_batch_tokens",
                                  "Tokens computed in one engine step (prefill + decode).",
                                  power_of_two_buckets(8192));
  prefix_queries_total_ = &counter(r, "ladle_prefix_cache_queries_total",
                                   "Prompt tokens looked up in the prefix cache.");
  prefix_hits_total_ = &counter(r, "ladle_prefix_cache_hits_total",
                                "Prompt tokens served from the prefix cache.");
  preemptions_total_ = &counter(r, "ladle_num_preemptions_total",
                                "Running requests preempted (blocks freed, to be recomputed).");
  num_running_ = &gauge(r, "ladle_num_requests_running", "Requests in the running batch.");
  num_waiting_ = &gauge(r, "ladle_num_requests_waiting", "Requests waiting to be scheduled.");
  auto& running_by_class = prometheus::BuildGauge()
                               .Name("ladle_requests_running")
                               .Help("Requests in the running batch, by class (interactive or batch).")
                               .Register(r);
  auto& waiting_by_class = prometheus::BuildGauge()
                               .Name("ladle_requests_waiting")
                               .Help("Requests waiting to be scheduled, by class (interactive or batch).")
                               .Register(r);
  for (std::size_t c = 0; c < kRequestClasses.size(); ++c) {
    running_by_class_[c] = &running_by_class.Add({{"class", std::string(kRequestClasses[c])}});
    waiting_by_class_[c] = &waiting_by_class.Add({{"class", std::string(kRequestClasses[c])}});
  }
  kv_blocks_used_ = &gauge(r, "ladle_kv_cache_blocks_used",
                           "KV cache blocks referenced by live sequences.");
  kv_blocks_cached_ = &gauge(r, "ladle_kv_cache_blocks_cached",
                             "Free KV cache blocks still holding a reusable prefix.");
  // NOTE(metrics): issue 5 names this gauge ladle_kv_cache_blocks_total, but `promtool check
  // metrics` warns that non-counters must not end in _total (and the exposition must lint
  // clean), so the capacity is exported as ladle_kv_cache_blocks_capacity.
  kv_blocks_total_ = &gauge(r, "ladle_kv_cache_blocks_capacity", "KV cache blocks in the arena.");
  kv_usage_ratio_ = &gauge(r, "ladle_kv_cache_usage_ratio",
                           "Used KV cache blocks divided by total blocks.");
}

void Metrics::register_server_metrics() {
  auto& r = *registry_;
  client_disconnects_total_ = &counter(r, "ladle_client_disconnects_total",
                                       "Streaming clients that left before their request finished.");
  background_running_ = &gauge(r, "ladle_background_responses_running",
                               "Background responses (Responses API, background: true) still generating.");
  background_stored_ = &gauge(r, "ladle_background_responses_stored",
                              "Background responses kept (running or finished, until evicted or expired).");
  background_resumes_total_ = &counter(r, "ladle_background_resumes_total",
                                       "Streams of a background response opened by GET (resumes and followers).");
  background_replayed_total_ = &counter(r, "ladle_background_replayed_events_total",
                                        "Events replayed from background responses' logs to resuming readers.");
  batch_lines_waiting_ = &gauge(r, "ladle_batch_lines_waiting",
                                "Lines of running batches (Batches API) waiting to start in the engine.");
  batch_lines_running_ = &gauge(r, "ladle_batch_lines_running", "Lines of batches generating in the engine now.");
  auto& lines = prometheus::BuildCounter()
                    .Name("ladle_batch_lines_total")
                    .Help("Batch lines whose result was committed, by outcome (failed: in the error file).")
                    .Register(r);
  batch_lines_done_ = &lines.Add({{"outcome", "done"}});
  batch_lines_failed_ = &lines.Add({{"outcome", "failed"}});
  auto& batches = prometheus::BuildGauge().Name("ladle_batches").Help("Batches in the store, by status.").Register(r);
  constexpr const char* kBatchStatuses[] = {"validating", "failed",     "in_progress", "finalizing",
                                            "completed",  "expired",    "cancelling",  "cancelled"};
  for (std::size_t i = 0; i < batches_.size(); ++i) batches_[i] = &batches.Add({{"status", kBatchStatuses[i]}});
  auto& internal = prometheus::BuildCounter()
                       .Name("ladle_internal_errors_total")
                       .Help("Exceptions contained instead of ending the process, by where they were caught.")
                       .Register(r);
  for (std::size_t i = 0; i < kInternalErrorPlaces.size(); ++i)
    internal_errors_[i] = &internal.Add({{"where", std::string(kInternalErrorPlaces[i])}});
  accept_errors_total_ = &counter(r, "ladle_accept_errors_total",
                                  "Failed accepts on the listening socket (e.g. out of file descriptors); "
                                  "each is retried after a back-off.");
  prometheus::BuildGauge()
      .Name("ladle_build_info")
      .Help("Build information; the value is always 1.")
      .Register(r)
      .Add({{"version", LADLE_VERSION}})
      .Set(1);
  model_info_family_ = &prometheus::BuildGauge()
                            .Name("ladle_model_info")
                            .Help("Shape of the served model and the kernels' ISA level (isa); the value is always 1.")
                            .Register(r);
}

// What browsers perceived (POST /v1/telemetry), beside what the server measured: first paint uses
// the TTFT buckets so the two histograms compare bucket by bucket.
void Metrics::register_client_metrics() {
  auto& r = *registry_;
  client_first_paint_ = &histogram(r, "ladle_client_first_paint_seconds",
                                   "Client-reported time from sending a request to painting its first text "
                                   "(the TTFT a user saw).",
                                   kTtftBuckets);
  client_render_delay_ = &histogram(r, "ladle_client_render_delay_seconds",
                                    "Client-reported delay from a text chunk's arrival to its paint.",
                                    kRenderDelayBuckets);
  auto& reports = prometheus::BuildCounter()
                      .Name("ladle_client_telemetry_reports_total")
                      .Help("Client telemetry reports received, by result (accepted or rejected).")
                      .Register(r);
  client_reports_accepted_ = &reports.Add({{"result", "accepted"}});
  client_reports_rejected_ = &reports.Add({{"result", "rejected"}});
}

void Metrics::set_model_info(const scheduler::ModelInfo& info) {
  auto num = [](int v) { return std::to_string(v); };
  prometheus::Labels labels = {
      {"model", info.name},
      {"vocab_size", num(info.vocab_size)},
      {"context_length", num(info.context_length)},
      {"dim", num(info.dim)},
      {"hidden_dim", num(info.hidden_dim)},
      {"n_layers", num(info.n_layers)},
      {"n_heads", num(info.n_heads)},
      {"n_kv_heads", num(info.n_kv_heads)},
      {"block_size", num(info.block_size)},
      {"isa", info.isa},
  };
  {
    std::lock_guard lock(model_info_mu_);
    if (model_info_ != nullptr) model_info_family_->Remove(model_info_);
    model_info_ = &model_info_family_->Add(labels);
    model_info_->Set(1);
  }
  kv_blocks_total_->Set(info.kv_blocks_total);
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void Metrics::on_client_disconnect() { client_disconnects_total_->Increment(); }
void Metrics::on_background_started() { background_running_->Increment(); }
void Metrics::on_background_finished() { background_running_->Decrement(); }
void Metrics::set_background_stored(int n) { background_stored_->Set(n); }
void Metrics::on_background_resume() { background_resumes_total_->Increment(); }
void Metrics::on_background_replayed(int events) { background_replayed_total_->Increment(events); }
void Metrics::set_batch_lines(int queued, int running) {
  batch_lines_waiting_->Set(queued);
  batch_lines_running_->Set(running);
}
void Metrics::on_batch_line_done(bool failed) { (failed ? batch_lines_failed_ : batch_lines_done_)->Increment(); }
void Metrics::set_batches(const std::vector<int>& by_status) {
  for (std::size_t i = 0; i < batches_.size() && i < by_status.size(); ++i) batches_[i]->Set(by_status[i]);
}

void Metrics::on_accept_error() { accept_errors_total_->Increment(); }

void Metrics::on_client_report(double first_paint, std::span<const double> render_delays) {
  client_reports_accepted_->Increment();
  client_first_paint_->Observe(first_paint);
  for (double d : render_delays) client_render_delay_->Observe(d);
}

void Metrics::on_client_report_rejected() { client_reports_rejected_->Increment(); }

Metrics::Live Metrics::live() const {
  return Live{num_running_->Value(), num_waiting_->Value(), kv_blocks_used_->Value(), kv_blocks_total_->Value(),
              kv_usage_ratio_->Value()};
}

void Metrics::on_http_rejected(std::string_view reason) { count_rejection(reject_index(reason)); }

void Metrics::on_internal_error(std::string_view where) {
  std::size_t i = 0;
  while (i + 1 < kInternalErrorPlaces.size() && kInternalErrorPlaces[i] != where) ++i;
  internal_errors_[i]->Increment();
}

void Metrics::on_step_failed(std::string_view) { on_internal_error("step_thread"); }

void Metrics::count_rejection(std::size_t reason_index) { rejected_[reason_index]->Increment(); }

void Metrics::on_request_rejected(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return count_rejection(reject_index("too_long"));
    case ErrorCode::kResourceExhausted: return count_rejection(reject_index("overloaded"));
    case ErrorCode::kUnavailable: return count_rejection(reject_index("unavailable"));
    default: return count_rejection(reject_index("invalid"));
  }
}

void Metrics::on_first_token(RequestId, double ttft) {
  ttft_->Observe(ttft);
  generation_tokens_total_->Increment();
  generation_tokens_by_class_[0]->Increment();
}

void Metrics::on_next_token(RequestId, double gap) {
  itl_->Observe(gap);
  generation_tokens_total_->Increment();
  generation_tokens_by_class_[0]->Increment();
}

void Metrics::on_batch_token(RequestId) {
  generation_tokens_total_->Increment();
  generation_tokens_by_class_[1]->Increment();
}

void Metrics::on_request_finished(const scheduler::RequestStats& stats) {
  finished_[static_cast<std::size_t>(stats.reason)]->Increment();
  if (stats.request_class == scheduler::RequestClass::kBatch) return;  // out of the latency histograms
  e2e_->Observe(stats.e2e_latency);
  queue_time_->Observe(stats.queue_time);
  request_prompt_tokens_->Observe(stats.prompt_tokens);
  request_generation_tokens_->Observe(stats.generation_tokens);
  if (stats.got_first_token) {
    prefill_time_->Observe(stats.prefill_time);
    decode_time_->Observe(stats.decode_time);
  }
}

void Metrics::on_step(const scheduler::StepStats& step, const scheduler::CounterDeltas& counters) {
  step_duration_->Observe(step.duration);
  if (step.prefill_tokens == 0 && step.decode_tokens > 0) decode_step_duration_->Observe(step.duration);
  step_batch_tokens_->Observe(step.batch_tokens);
  // Counter::Increment(0) is a no-op CAS; skip it to keep the common decode step cheap.
  if (counters.prompt_tokens) prompt_tokens_total_->Increment(static_cast<double>(counters.prompt_tokens));
  if (counters.prefix_queried_tokens)
    prefix_queries_total_->Increment(static_cast<double>(counters.prefix_queried_tokens));
  if (counters.prefix_hit_tokens)
    prefix_hits_total_->Increment(static_cast<double>(counters.prefix_hit_tokens));
  if (counters.preemptions) preemptions_total_->Increment(static_cast<double>(counters.preemptions));
}

void Metrics::on_gauges(const scheduler::EngineGauges& g) {
  num_running_->Set(g.num_running);
  num_waiting_->Set(g.num_waiting);
  running_by_class_[0]->Set(g.num_running - g.num_running_batch);
  running_by_class_[1]->Set(g.num_running_batch);
  waiting_by_class_[0]->Set(g.num_waiting - g.num_waiting_batch);
  waiting_by_class_[1]->Set(g.num_waiting_batch);
  kv_blocks_used_->Set(g.kv_blocks_used);
  kv_blocks_cached_->Set(g.kv_blocks_cached);
  kv_blocks_total_->Set(g.kv_blocks_total);
  kv_usage_ratio_->Set(g.kv_blocks_total > 0
                           ? static_cast<double>(g.kv_blocks_used) / g.kv_blocks_total
                           : 0.0);
}

}  // namespace ladle::server
