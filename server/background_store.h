// BackgroundStore: every background response of the server, by id, with its bounds:
//   --max-background      responses running at once (beyond that: 429)
//   --background-ttl      seconds a finished response is kept (then 404)
//   --background-log-mb   total bytes of event logs kept; the oldest finished responses are
//                         evicted first, and a new one is refused (429) while running ones alone
//                         exceed it
// Followers copy out of a log and keep nothing per reader, so memory stays bounded however many
// readers and resumes there are.
//
// Ownership: Server owns it (after its io_context, so it is destroyed first). Threads: every
// method may be called from any I/O thread (one mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include <boost/asio/io_context.hpp>

#include "server/api_error.h"
#include "server/background_response.h"

namespace ladle::server {

class BackgroundStore {
 public:
  BackgroundStore(boost::asio::io_context& ioc, ServerState& state);

  // Starts a background response (its own strand) and keeps it; or 429 beyond the bounds, or the
  // engine's refusal.
  std::variant<std::shared_ptr<BackgroundResponse>, ApiError> start(scheduler::Engine& engine,
                                                                    std::unique_ptr<ResponsesEncoder> encoder,
                                                                    scheduler::GenerationRequest request);
  // The response, or null when unknown, deleted or expired.
  std::shared_ptr<BackgroundResponse> find(const std::string& id);
  // Cancels it if running and forgets it; false when unknown.
  bool remove(const std::string& id);

  int num_running();
  int num_stored();

 private:
  // Drops expired responses, then the oldest finished ones while the logs exceed `budget`.
  void sweep_locked(std::size_t budget);
  void publish_locked();

  boost::asio::io_context& ioc_;
  ServerState& state_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<BackgroundResponse>> by_id_;  // GUARDED_BY(mu_)
  std::deque<std::string> order_;                                     // GUARDED_BY(mu_): oldest first
};

}  // namespace ladle::server
