// GET /v1/server-state: the server's state right now as one small JSON object, for the built-in
// page's live panel (simpler for a browser than parsing /metrics, and the same gauges):
//   {"status": "ok"|"loading"|"draining", "model": id|null, "running", "waiting",
//    "kv_blocks_used", "kv_blocks_capacity", "kv_usage" (0..1), "in_flight" (HTTP generations),
//    "client_telemetry" (whether POST /v1/telemetry is on)}
// The engine gauges are those of its last step (Metrics::live()); all zero without metrics.
//
// Thread-safety: a pure function over atomics.
#pragma once

#include "server/http_reply.h"
#include "server/server_state.h"

namespace ladle::server {

HttpReply handle_server_state(const ServerState& state);

}  // namespace ladle::server
