// CancelHarness: proves that clients who leave free their server resources. It drops requests
// at chosen points by closing the socket — while queued behind a saturated server, during the
// prefill of a long prompt, after M streamed tokens, and non-streamed requests mid-way — and
// reads the server's /metrics (polling every ~2 ms) to time each close → resources-free.
//
// NOTE(loadgen): drops run one at a time with nothing else in flight (except in the queued phase,
// which needs a saturated server), so the baseline of "freed" is simply the idle server measured
// just before. A drop counts as freed at the first poll that starts a quiet window (--quiet-ms)
// in which running, waiting and used KV blocks stay at the baseline and
// ladle_generation_tokens_total does not move; tokens decoded after the close are that counter's
// growth from the last sample before the close (metrics are polled while the request runs).
//
// Owned by the cancel-test command. run() blocks its caller; the streams run on an internal I/O
// thread. Not reusable: one run() per harness.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/loadgen/openai_protocol.h"
#include "bench/loadgen/server_gauges.h"
#include "bench/loadgen/stream_call.h"
#include "bench/loadgen/url.h"
#include "bench/loadgen/workload.h"

namespace ladle::loadgen {

struct CancelConfig {
  Url url;
  ApiEndpoint endpoint = ApiEndpoint::kCompletions;
  std::string model;
  int drops = 5;               // drops per drop point
  int after_tokens = 8;        // the "decode" point: close after this many streamed tokens
  int long_tokens = 400;       // max_tokens of requests meant to outlive their drop (ignore_eos)
  int prefill_len = 200;       // prompt words of the "prefill" point
  int prefill_max_tokens = 16; // max_tokens of the "prefill" point (prompt + this must fit the context)
  int prefill_drop_us = 0;     // close this long after the long prompt is written
  int nonstream_drop_ms = 10;  // close a non-streamed request this long after writing it
  int saturate = 16;           // streams opened for the "queued" point
  int settle_ms = 5000;        // longest wait for the server to return to its baseline
  int quiet_ms = 30;           // baseline must hold this long (see NOTE above)
  std::uint64_t seed = 0;
};

struct DropPointReport {
  std::string name;
  int attempted = 0;
  int dropped = 0;                  // closed by the client before the response ended
  int completed_before_drop = 0;    // the response ended first: nothing to drop
  int before_first_token = 0;       // closed before any content arrived
  int leaks = 0;                    // never returned to baseline within --settle-ms
  std::vector<double> free_ms;      // close → resources free, per drop
  int not_cancelled = 0;            // freed, but not counted as finished with reason "cancelled"
  // Per drop: ladle_generation_tokens_total growth from the last /metrics sample taken before
  // the close to the freed state (an upper bound: a poll period of slack, ~2 ms).
  std::vector<double> tokens_after_close;
  std::vector<std::string> notes;   // problems and observations, one line each
};

class CancelHarness {
 public:
  explicit CancelHarness(CancelConfig config);
  ~CancelHarness();
  CancelHarness(const CancelHarness&) = delete;
  CancelHarness& operator=(const CancelHarness&) = delete;

  // Runs every drop point. Fails only when the server is unreachable, exports none of the
  // gauges, or never becomes idle; leaks are reported inside the results.
  Expected<std::vector<DropPointReport>> run();

 private:
  struct Launched {
    std::shared_ptr<StreamCall> call;
    std::future<CallResult> result;
  };
  Launched launch(const std::string& prompt, bool stream, CallOptions drop, int max_tokens);
  Expected<ServerGauges> wait_idle();
  // Polls /metrics until the server holds no more than `baseline` for quiet_ms; nullopt on timeout.
  std::optional<ServerGauges> wait_freed(const ServerGauges& baseline, Clock::time_point deadline,
                                         std::string* last_seen);
  void drop_one(DropPointReport& report, const std::string& prompt, bool stream, const CallOptions& drop,
                int max_tokens);
  DropPointReport run_single_point(const std::string& name, Workload& prompts, bool stream, const CallOptions& drop,
                                   int max_tokens);
  DropPointReport run_queued_point(DropPointReport* bulk);
  // Queued-phase steps: wait until the server reports a waiting request; drop one stream that
  // has no token yet and time it until counted as cancelled (false: nothing left to drop);
  // close every other stream and time the return to `idle`.
  bool wait_for_queue();
  bool drop_queued(std::vector<Launched>& streams, std::vector<bool>& closed, DropPointReport& report);
  void close_all(std::vector<Launched>& streams, std::vector<bool>& closed, const ServerGauges& idle,
                 DropPointReport& bulk);

  CancelConfig config_;
  Workload short_prompts_;
  Workload long_prompts_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::ip::tcp::resolver::results_type endpoints_;
  std::thread io_thread_;
};

}  // namespace ladle::loadgen
