// BackgroundResponse: a Responses API generation detached from any connection (background: true).
// It runs to the end whether or not anyone listens; its events go to an EventLog that any number
// of LogFollowers replay and follow, from any sequence number; GET /v1/responses/{id} reads its
// snapshot; cancel() stops it.
//
// Ownership: shared_ptr, held by the BackgroundStore (and by followers and pending handlers while
// they run). Threads: the generation is pumped on the response's own strand; the encoder, the log
// and the follower list are guarded by mu_, so snapshot(), read_after() and cancel() may be called
// from any connection's strand.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <nlohmann/json.hpp>

#include "server/event_log.h"
#include "server/generation.h"
#include "server/responses_encoder.h"

namespace ladle::server {

class ServerState;

class BackgroundResponse : public std::enable_shared_from_this<BackgroundResponse> {
 public:
  using Clock = std::chrono::steady_clock;

  BackgroundResponse(ServerState& state, scheduler::Engine& engine, boost::asio::any_io_executor strand,
                     std::unique_ptr<ResponsesEncoder> encoder);

  // Submits the request and logs response.created.
  std::optional<ApiError> start(scheduler::GenerationRequest request);
  // Asks for a stop (idempotent); the log ends with response.cancelled.
  void cancel();

  const std::string& id() const { return id_; }
  nlohmann::json snapshot() const;
  bool finished() const;
  std::optional<Clock::time_point> finished_at() const;
  std::size_t log_bytes() const;

  // Followers: the SSE text of events after `after` (see EventLog::read_after), and whether the
  // log is complete up to what was returned. `wake` (called from the response's strand when
  // events arrive) is kept until the follower's next read.
  struct Read {
    std::int64_t last = -1;
    bool complete = false;  // the response has finished and nothing follows `last`
  };
  Read read_after(std::int64_t after, std::string& out, std::size_t max_bytes, std::function<void()> wake);

 private:
  void pump();

  ServerState& state_;
  boost::asio::any_io_executor strand_;
  const std::string id_;
  Generation generation_;  // strand only
  // Itself, from start() until pump() sees the finish: a response removed from the store while it
  // runs (DELETE) must still hear its finish, or its generation would never end (in flight
  // forever, and a drain would wait for it until --drain-timeout).
  std::shared_ptr<BackgroundResponse> self_;  // strand only (set before the submit)
  mutable std::mutex mu_;
  std::unique_ptr<ResponsesEncoder> encoder_;  // GUARDED_BY(mu_)
  EventLog log_;                               // GUARDED_BY(mu_)
  std::vector<std::function<void()>> waiting_; // GUARDED_BY(mu_): followers to wake
  std::optional<Clock::time_point> finished_at_;  // GUARDED_BY(mu_)
  bool cancel_asked_ = false;                     // GUARDED_BY(mu_)
};

}  // namespace ladle::server
