// LogFollower: a reader of a background response's event log over SSE (GET
// /v1/responses/{id}?stream=true[&starting_after=N], or Last-Event-ID): it replays the events
// after N, then follows live ones until the response ends, then ends its body. Leaving does not
// cancel the response: a background response belongs to no connection.
//
// Memory: each write copies at most kMaxWrite bytes of whole events out of the log, so a reader
// holds one write buffer however far behind it is. A reader that stops reading is cut after
// --stall-timeout like any stream.
//
// Ownership and threads: as SseWriter (the session holds it while it runs; all on its strand).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "server/background_response.h"
#include "server/sse_writer.h"

namespace ladle::server {

class LogFollower final : public SseWriter {
 public:
  // Called once on the strand when the follow ends; `close` asks the session to close.
  using Done = std::function<void(bool close)>;

  LogFollower(boost::beast::tcp_stream& socket, ServerState& state, std::shared_ptr<BackgroundResponse> response,
              std::int64_t after, bool keep_alive, bool http11, Done done);

  void start();
  void client_gone() override;

 private:
  void pull();
  void on_idle() override { pull(); }
  void on_write_failed() override { client_gone(); }
  void on_ping() override { comment("ping"); }
  void on_body_written() override { end(!keep_alive_); }
  void end(bool close);

  static constexpr std::size_t kMaxWrite = 64 * 1024;

  std::shared_ptr<BackgroundResponse> response_;
  std::int64_t last_;  // the last sequence number queued
  const bool keep_alive_;
  Done done_;
  std::string piece_;  // scratch: events copied out of the log
  bool live_ = false;  // caught up with the log once
  bool ended_ = false;
};

}  // namespace ladle::server
