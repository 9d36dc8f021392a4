// RequestSample: what the client measured for one request, in milliseconds, from the bytes on the
// wire (steady_clock at the completion of each socket read).
//
// Plain data; produced by StreamCall on its I/O thread, then owned by whoever collects results.
#pragma once

#include <string>
#include <vector>

namespace ladle::loadgen {

struct RequestSample {
  int index = 0;          // order of issue within its run
  int level = 0;          // concurrency (closed loop) or 0 (open loop) of the run it belongs to
  int path = 0;           // 0: LoadTarget::url, 1: LoadTarget::alt_url
  int client = -1;        // closed loop: the client (0..concurrency-1) that sent it; -1 open loop
  double wait_ms = 0;     // start jitter drawn for it (RunPlan::start_jitter_ms), not part of any latency
  int input_words = 0;    // prompt length asked of the workload (≈ tokens)
  int max_tokens = 0;
  double start_s = 0;     // request written, seconds after the run started
  double connect_ms = 0;  // TCP connect, not part of TTFT
  bool ok = false;
  std::string error;      // why it failed: "HTTP 503: ...", "error event: ...", "truncated stream", ...
  int http_status = 0;
  double ttft_ms = 0;     // write → first content-bearing event (non-streamed: = e2e_ms)
  double server_ttft_ms = -1;  // the server's own TTFT (`: server-ttft-ms` comment, ladle with
                               // ?server_timing=1), accepted → first token handed to its socket; -1: none
  double e2e_ms = 0;      // write → end of the response
  std::vector<double> itl_ms;  // gaps between consecutive content events
  int output_tokens = 0;  // usage.completion_tokens if reported, else content events
  int prompt_tokens = 0;  // usage.prompt_tokens if reported, else 0
  int content_events = 0;
  bool usage_reported = false;
  bool dropped = false;   // the client closed the connection on purpose (cancel-test)

  // (e2e − TTFT) / (tokens − 1); 0 with fewer than two tokens.
  double tpot_ms() const {
    return output_tokens > 1 ? (e2e_ms - ttft_ms) / (output_tokens - 1) : 0.0;
  }
  // The server merged several tokens into one event (so one ITL spans several tokens).
  bool merged_tokens() const { return usage_reported && output_tokens > content_events; }
};

}  // namespace ladle::loadgen
