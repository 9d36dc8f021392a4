// The three tables engine_bench prints, each run on the harness (harness.h): closed-loop
// throughput per concurrency level, a served open-loop run replayed offline, and prefix-cache TTFT.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/engine/harness.h"

namespace ladle::bench {

// Runs every concurrency level of `shape` `o.rounds` times, alternating (round r runs all levels,
// each right after its own sgemm peak probe), and prints one row per level: the best round and the
// median one. The machine is shared and its speed wanders by tens of percent over minutes;
// interference only ever slows a run down, so the best round is the least disturbed, and its
// ratio is taken to the best peak of the same rounds.
void bench_throughput(const std::string& shape, const std::string& path, const std::string& tok, const Options& o);

// One request of the served run being replayed.
struct Arrival {
  double at_s = 0;  // since the run's start, when the client sent it
  int prompt_tokens = 0;
  int output_tokens = 0;
  double served_tpot_ms = -1;  // the client's TPOT for it (< 0: fewer than two tokens)
};

// The successful requests of the first run in a `ladle bench --json` file, by send time.
std::optional<std::vector<Arrival>> load_replay(const std::string& path);

// Submits `arrivals` at their send times (random prompt ids of their lengths, greedy, ignore_eos)
// to an engine with --max-running (default 32) and prints the offline TPOT against the served one
// over the same requests, with each side's decode-step figures.
bool bench_replay(const std::string& shape, const std::string& path, const std::string& tok,
                  const std::vector<Arrival>& arrivals, const Options& o);

// Time to first token of a request whose --prefix-len-token prefix is cached, against a cold one
// (medians of three), as one table row.
void bench_prefix(const std::string& shape, const std::string& path, const std::string& tok, const Options& o);

}  // namespace ladle::bench
