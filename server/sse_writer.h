// SseWriter: the SSE transport on one HTTP connection — the response head, each event framed as
// `event:` / `id:` / `data:` lines (in an HTTP/1.1 chunk, or bare for an HTTP/1.0 client whose
// body ends at the close), at most one write in flight, keep-alive pings, and the stall cut.
// Consumers derive from it: HttpStream (a generation attached to its client) and LogFollower (a
// reader of a background response's log).
//
// Backpressure (the policy): events are appended to an outbox while a write is in flight and go
// out together in the next write, so a slow reader gets fewer, larger writes and the server holds
// at most the outbox. A write that makes no progress for --stall-timeout seconds cuts the
// connection (the consumer hears write_failed()).
//
// Ownership: shared_ptr; every pending handler holds shared_from_this(). Threads: all on the
// connection's strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "server/server_state.h"
#include "server/stream_encoder.h"

namespace ladle::server {

class SseWriter : public EventOut, public std::enable_shared_from_this<SseWriter> {
 public:
  void event(std::string_view type, std::string_view data, std::int64_t id = -1) override;
  void comment(std::string_view text) override;

  // The client closed or reset the connection (the session's pending read saw it).
  virtual void client_gone() = 0;

 protected:
  // `chunked`: HTTP/1.1 chunked framing (false for an HTTP/1.0 client).
  SseWriter(boost::beast::tcp_stream& socket, ServerState& state, bool chunked);

  // Queues the response head (200, text/event-stream, no-cache, X-Accel-Buffering: no, CORS).
  void queue_head(bool keep_alive, std::string_view extra_headers = {});
  // Queues SSE text that is already framed as events (one chunk).
  void raw(std::string_view sse_text) { append_piece(sse_text); }
  // Queues the end of the body; once it is written the consumer hears body_written().
  void queue_end();
  // Starts writing the outbox unless a write is in flight or it is empty.
  void flush();
  bool write_in_flight() const { return !writing_.empty(); }
  bool ended_body() const { return end_queued_; }
  void start_pings();
  void stop_timers();

  // A write completed and nothing is in flight: queue more (then flush).
  virtual void on_idle() = 0;
  // The client is gone: a write failed, or made no progress for the stall timeout.
  virtual void on_write_failed() = 0;
  // Nothing was written for a ping interval while the body is open.
  virtual void on_ping() = 0;
  // The end of the body is written.
  virtual void on_body_written() = 0;

  boost::beast::tcp_stream& socket_;
  ServerState& state_;
  const bool chunked_;

 private:
  void append_piece(std::string_view payload);
  void append_chunk_size(std::size_t size);  // an HTTP/1.1 chunk's hex size line
  void on_write(boost::beast::error_code ec);
  void arm_stall_check(std::chrono::steady_clock::time_point at);
  void on_stall_check();
  void arm_ping();

  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer stall_timer_;
  // NOTE(server): both buffers live as long as the stream and keep their capacity, so a steady
  // stream writes its events without allocating.
  std::string outbox_;   // bytes queued for the next write
  std::string writing_;  // bytes of the write in flight (empty: none)
  // The stall check: when the write in flight started, and whether the timer is armed. One
  // timer wait covers many writes instead of one wait (and cancel) per event.
  std::chrono::steady_clock::time_point write_started_{};
  bool stall_armed_ = false;
  bool sent_since_ping_ = false;
  bool end_queued_ = false;
  bool stopped_ = false;
};

}  // namespace ladle::server
