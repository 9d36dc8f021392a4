// RequestMix: the per-request variety of a soak run — which endpoint, streamed or not, which stop
// strings, and whether and where the client drops the request (closes its connection). Without
// --mix every request keeps the run's endpoint, is streamed and has no stop strings; without
// --drop-rate none is dropped.
//
// Drop points, chosen evenly among the dropped requests (a random point, so that over many
// requests every phase is hit):
//  - early: 0–20 ms after the request was written (under load: while queued or in prefill);
//  - timed: 20 ms–2 s after it was written (queued, prefill or decode, as the load has it);
//  - after k content events, k uniform in [1, max_tokens − 1] (streamed requests; mid-decode).
//    A non-streamed request drawn for this point is dropped on the timed rule instead.
// A request that completes before its drop point is simply a completed request.
//
// Owned by one LoadDriver run; single-threaded. Deterministic for a given seed.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/loadgen/openai_protocol.h"

namespace ladle::loadgen {

struct MixConfig {
  ApiEndpoint endpoint = ApiEndpoint::kCompletions;  // the run's endpoint (used when not mixed)
  bool mixed = false;      // vary endpoint, streaming and stop strings per request
  double drop_rate = 0;    // share of requests the client drops, in [0, 1]
  std::uint64_t seed = 0;
};

struct RequestShape {
  ApiEndpoint endpoint = ApiEndpoint::kCompletions;
  bool stream = true;
  std::vector<std::string> stop;
  std::optional<int> drop_after_events;                 // close after this many content events
  std::optional<std::chrono::microseconds> drop_after;  // close this long after the write
};

class RequestMix {
 public:
  explicit RequestMix(const MixConfig& config);

  // The shape of the next request, whose max_tokens is `max_tokens`.
  RequestShape next(int max_tokens);

 private:
  MixConfig config_;
  std::mt19937_64 rng_;
};

}  // namespace ladle::loadgen
