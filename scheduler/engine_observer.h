// EngineObserver: what the engine tells the metrics layer. Implemented by server/metrics.
//
// Thread: every call comes from the engine's step thread (on_request_rejected also from the
// caller of submit). Implementations must be cheap (a few atomic adds) and must not block.
#pragma once

#include <cstdint>
#include <string_view>

#include "kvcache/expected.h"
#include "kvcache/ids.h"
#include "scheduler/engine.h"
#include "scheduler/token_sink.h"

namespace ladle::scheduler {

// Per-request timings, in seconds, reported once when the request finishes.
struct RequestStats {
  RequestId id = 0;
  FinishReason reason = FinishReason::kStop;
  int prompt_tokens = 0;
  int cached_prompt_tokens = 0;
  int generation_tokens = 0;
  double queue_time = 0;    // submit → first scheduled
  double prefill_time = 0;  // first scheduled → first token (0 if it never got there)
  double decode_time = 0;   // first token → finish (0 if no token)
  double e2e_latency = 0;   // submit → finish
  bool got_first_token = false;
  RequestClass request_class = RequestClass::kInteractive;
};

// One forward step.
struct StepStats {
  double duration = 0;     // seconds: schedule + forward + sample + update + demux
  int batch_tokens = 0;    // tokens computed in this step (prefill + decode)
  int prefill_tokens = 0;
  int decode_tokens = 0;
  int dropped_tokens = 0;  // of batch_tokens, rows of requests cancelled mid-step and left out from then on
  int sampled_rows = 0;    // tokens whose logits were sampled (each decode, a prompt's last chunk)
};

// Levels at one instant; reported after every step and after every inbox drain, so that they
// are exact when the engine goes idle.
struct EngineGauges {
  int num_running = 0;
  int num_waiting = 0;
  int kv_blocks_total = 0;
  int kv_blocks_used = 0;     // referenced by a live sequence
  int kv_blocks_cached = 0;   // free but still holding a reusable full block
  int num_running_batch = 0;  // of num_running, batch-class requests
  int num_waiting_batch = 0;  // of num_waiting, batch-class requests
};

// Monotonic counters' increments since the previous report (reported with on_step).
struct CounterDeltas {
  std::uint64_t prompt_tokens = 0;          // prompt tokens of newly admitted requests
  std::uint64_t prefix_queried_tokens = 0;  // tokens looked up in the prefix cache
  std::uint64_t prefix_hit_tokens = 0;      // of those, served from cache
  std::uint64_t preemptions = 0;
};

class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // submit() refused the request (kInvalidArgument: too long; kResourceExhausted: queue full;
  // kUnavailable: shutting down).
  virtual void on_request_rejected(ErrorCode code) = 0;
  // The first generated token of interactive request `id`; `ttft` seconds after submit. Tokens of
  // batch-class requests go to on_batch_token instead: nobody waits on their latency.
  virtual void on_first_token(RequestId id, double ttft) = 0;
  // A later generated token; `gap` seconds after the previous token of the same request.
  virtual void on_next_token(RequestId id, double gap) = 0;
  // A generated token of batch-class request `id`.
  virtual void on_batch_token(RequestId id) {}
  virtual void on_request_finished(const RequestStats& stats) = 0;
  virtual void on_step(const StepStats& step, const CounterDeltas& counters) = 0;
  virtual void on_gauges(const EngineGauges& gauges) = 0;
  // A step threw `what`; the engine failed the step's requests (FinishReason::kError, each also
  // reported through on_request_finished) and went on with the next step.
  virtual void on_step_failed(std::string_view what) {}

};

}  // namespace ladle::scheduler
