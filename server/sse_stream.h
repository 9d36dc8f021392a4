// SseStream: the life of one generation on one connection, from submit() to the last byte. It
// owns the request's Mailbox (the TokenSink the engine writes to), turns mailbox batches into
// OpenAI chunks framed as SSE over HTTP/1.1 chunked encoding, and writes them with at most one
// write in flight. With stream=false it collects the text and hands one JSON reply back to the
// session instead.
//
// Backpressure and slow clients (the policy):
//  - The engine never waits for a socket: its calls only append to the Mailbox, which merges all
//    text not yet written into one pending delta. A client that reads slowly therefore receives
//    fewer, larger events; memory per client is one write buffer plus that merged text, which is
//    bounded by the request's own output (max_tokens).
//  - A write that makes no progress for --stall-timeout seconds cuts the connection and cancels the
//    request in the engine.
//  - A failed write, or EOF/reset seen by the session's pending read, cancels the request at once
//    (engine.cancel), so its batch slot and KV blocks are freed before the next step.
//  - While no token arrives (queued, prefilling) a ": ping" comment is sent every --ping-interval.
//
// Ownership: the HttpSession holds it (shared_ptr) while the generation runs; it holds the
// session alive through its `done` callback until it ends. Threads: every method runs on the
// connection's strand; only the Mailbox is touched by the engine thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "server/delta_chunk_writer.h"
#include "server/handlers.h"
#include "server/mailbox.h"
#include "server/server_state.h"

namespace ladle::server {

class SseStream : public std::enable_shared_from_this<SseStream> {
 public:
  // Called once, on the strand, when the generation is over: `reply` is the non-streamed response
  // (none when streaming, or when the client is gone); `close` asks the session to close.
  using Done = std::function<void(std::optional<HttpReply> reply, bool close)>;

  // `http11`: the request was HTTP/1.1 or later; otherwise a streamed body goes out without
  // chunked framing and the connection is closed after it.
  SseStream(boost::beast::tcp_stream& socket, ServerState& state, scheduler::Engine& engine,
            ResponseContext context, bool stream, bool keep_alive, bool http11, Done done);

  // Submits the request. On failure nothing is in flight and the error is returned (the caller
  // replies with it); on success the stream starts writing (headers at once when streaming).
  std::optional<ApiError> start(scheduler::GenerationRequest request);

  // The client closed or reset the connection: cancel the request now and end.
  void client_gone();

 private:
  void pump();
  // Appends the SSE bytes of `batch` (a delta, the final events, or both) to outbox_.
  void format_batch(const Mailbox::Batch& batch);
  std::string format_finish(const scheduler::Finish& finish);
  // Writes `bytes`, which must not alias writing_ (nothing is in flight when called).
  void do_write(std::string_view bytes);
  void start_write();
  void on_write(boost::beast::error_code ec);
  void arm_stall_check(std::chrono::steady_clock::time_point at);
  void on_stall_check();
  void arm_ping();
  void end(std::optional<HttpReply> reply, bool close);

  boost::beast::tcp_stream& socket_;
  ServerState& state_;
  scheduler::Engine& engine_;
  ResponseContext context_;
  const bool stream_;
  const bool keep_alive_;
  const bool chunked_;  // HTTP/1.1 chunked framing (not for an HTTP/1.0 client)
  Done done_;
  std::shared_ptr<Mailbox> mailbox_;
  RequestId id_ = 0;
  DeltaChunkWriter chunks_;
  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer stall_timer_;
  // NOTE(server): the buffers below live as long as the stream and keep their capacity, so a
  // steady stream writes its events without allocating: batch_ and the mailbox swap text
  // buffers, outbox_ and writing_ swap bytes.
  Mailbox::Batch batch_;         // the last batch taken from the mailbox
  std::string outbox_;           // bytes being formatted for the next write
  std::string writing_;          // bytes of the write in flight (empty: none)
  // The stall check: when the write in flight started, and whether the timer is armed. One
  // timer wait covers many writes instead of one wait (and cancel) per event.
  std::chrono::steady_clock::time_point write_started_{};
  bool stall_armed_ = false;
  std::string text_;             // stream=false: the text so far
  bool first_delta_ = true;
  bool finish_written_ = false;  // the final bytes are queued or written
  bool ended_ = false;
  bool sent_since_ping_ = false;
};

}  // namespace ladle::server
