// LoadDriver: runs one benchmark level against a server — closed loop (a fixed number of
// clients, each sending its next request when the previous one ends) or open loop (requests
// arrive on a Gamma/Poisson schedule regardless of completions) — and returns every sample.
// With a second address (LoadTarget::alt_url) the requests alternate between the two in the same
// run, so both see the same load: client c's k-th request goes to path ((c + k) / 2) % 2, i.e.
// each client runs 0,0,1,1,... from its own phase (open loop: request i to path i % 2), and each
// sample records its path and client.
// NOTE(loadgen): not a plain 0,1,0,1 per client: a path that ends streams later (a proxy, ~1 ms
// under load) delays its client's next request, which with strict alternation is always on the
// other path; at 32 streams that put the proxied requests ahead in the prefill queue and their
// TTFT p50 19 ms [CI 0..45] *below* the direct path's (20 loaded rounds). With pairs, a request
// follows one of either path equally often (four phases: a multiple of 4 clients balances both).
// An odd RunPlan::arrival_seed swaps the two paths of every phase, so that over rounds of
// consecutive seeds each client slot (its prompts, its place in the first burst) serves both
// paths alike: with one fixed mapping, path 1 had the lower server-side TTFT at the start of all
// four loaded runs, an A/A run between the same address included (runs that shared seeds).
// A closed loop whose requests all end in the same step sends its next ones all at once, and the
// server admits such a burst in arrival order: RunPlan::start_jitter_ms makes each client wait a
// random 0..J ms before each request, so that order is the draw's, not the clients' or the paths'.
//
// Owned by the bench command; run() blocks the calling thread, which drives one io_context with
// all connections on it (one strand each). Bounded: at most `num_requests` requests, none issued
// after `duration_s`, and each request ends by its own timeout, so a run ends by
// duration + timeout at the latest.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/loadgen/openai_protocol.h"
#include "bench/loadgen/request_sample.h"
#include "bench/loadgen/url.h"
#include "bench/loadgen/workload.h"
#include "kvcache/expected.h"

namespace ladle::loadgen {

struct LoadTarget {
  Url url;
  ApiEndpoint endpoint = ApiEndpoint::kCompletions;
  std::string model;  // may be empty (the server's default)
  bool ignore_eos = false;
  std::optional<std::uint64_t> seed;  // sampling seed sent with every request
  double temperature = 0.0;
  std::chrono::milliseconds timeout{120'000};
  bool mixed = false;      // vary endpoint, streaming and stop strings per request (request_mix.h)
  double drop_rate = 0;    // share of requests dropped by the client at a random point
  std::optional<Url> alt_url;  // path 1: same requests, same client, another address (e.g. a proxy)
  bool server_timing = false;  // add ?server_timing=1: ladle reports its own TTFT in each stream
};

struct RunPlan {
  int concurrency = 0;        // > 0: closed loop with this many clients
  double request_rate = 0;    // open loop (used when concurrency == 0); inf = all at once
  double burstiness = 1.0;
  int max_concurrency = 0;    // open loop: cap on requests in flight (0 = none)
  int num_requests = 100;
  double duration_s = 0;      // 0 = no time bound besides the per-request timeout
  std::uint64_t arrival_seed = 0;
  double start_jitter_ms = 0;  // closed loop: each request waits uniform [0, J) ms before it is sent
};

struct RunResult {
  std::vector<RequestSample> samples;  // in completion order
  double duration_s = 0;               // run start → last completion
};

// Called after every completion: (completed ok or dropped on purpose, failed, in flight, elapsed
// seconds).
using ProgressFn = std::function<void(int, int, int, double)>;

class LoadDriver {
 public:
  LoadDriver(LoadTarget target, Workload& workload);

  // Runs `plan` to completion. Fails only when the server cannot be resolved.
  Expected<RunResult> run(const RunPlan& plan, const ProgressFn& progress = {});

 private:
  LoadTarget target_;
  Workload& workload_;
};

}  // namespace ladle::loadgen
