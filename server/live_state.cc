#include "server/live_state.h"

#include "server/json_fields.h"
#include "server/metrics.h"

namespace ladle::server {

HttpReply handle_server_state(const ServerState& state) {
  const Metrics::Live live = state.metrics() ? state.metrics()->live() : Metrics::Live{};
  const Health health = state.health();
  const scheduler::Engine* engine = state.engine();
  json j = {{"status", health == Health::kReady ? "ok" : health == Health::kLoading ? "loading" : "draining"},
            {"model", engine ? json(engine->model_info().name) : json(nullptr)},
            {"running", live.running},
            {"waiting", live.waiting},
            {"kv_blocks_used", live.kv_blocks_used},
            {"kv_blocks_capacity", live.kv_blocks_capacity},
            {"kv_usage", live.kv_usage},
            {"in_flight", state.num_in_flight()},
            {"client_telemetry", state.client_telemetry() != nullptr}};
  HttpReply r = json_reply(200, dump(j));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace ladle::server
