// HttpStream: a generation attached to the HTTP connection that asked for it, from submit() to
// the last byte. It takes the Generation's updates, has the request's dialect encoder turn them
// into events, and writes them as SSE (SseWriter) — or, with stream=false, hands the encoder's one
// JSON reply back to the session.
//
// The client's connection is the request's life: a failed write, a stall, or EOF/reset seen by the
// session's pending read (client_gone) cancels the request in the engine at once, so its batch slot
// and KV blocks are freed before the next step. While no token arrives (queued, prefilling) the
// dialect's keep-alive is sent every --ping-interval.
//
// Ownership: the HttpSession holds it (shared_ptr) while the generation runs; it holds the session
// alive through its `done` callback until it ends. Threads: every method runs on the connection's
// strand; only the Generation's Mailbox is touched by the engine thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/generation.h"
#include "server/http_reply.h"
#include "server/sse_writer.h"

namespace ladle::server {

class HttpStream final : public SseWriter {
 public:
  // Called once, on the strand, when the generation is over: `reply` is the non-streamed response
  // (none when streaming, or when the client is gone); `close` asks the session to close.
  using Done = std::function<void(std::optional<HttpReply> reply, bool close)>;

  // `http11`: the request was HTTP/1.1 or later; otherwise a streamed body goes out without
  // chunked framing and the connection is closed after it. `headers` go on the reply (the SSE
  // head, or the JSON reply).
  HttpStream(boost::beast::tcp_stream& socket, ServerState& state, scheduler::Engine& engine,
             std::unique_ptr<StreamEncoder> encoder, bool stream, bool keep_alive, bool http11,
             std::vector<std::pair<std::string, std::string>> headers, Done done);

  // Submits the request. On failure nothing is in flight and the error is returned (the caller
  // replies with it in the dialect's shape); on success the stream starts (headers at once when
  // streaming).
  std::optional<ApiError> start(scheduler::GenerationRequest request);

  // A refused submit's error in the dialect's shape, with the reply's headers.
  HttpReply error_reply(const ApiError& error) { return with_headers(encoder_->error(error)); }

  // Sends the `: server-ttft-ms` comment before the first text (call before start()).
  void announce_server_ttft() { announce_ttft_ = true; }

  // The client closed or reset the connection: cancel the request now and end.
  void client_gone() override;

 private:
  void pump();
  void on_idle() override { pump(); }
  void on_write_failed() override { client_gone(); }
  void on_ping() override { encoder_->ping(*this); }
  void on_body_written() override { end(std::nullopt, !keep_alive_); }
  void end(std::optional<HttpReply> reply, bool close);
  HttpReply with_headers(HttpReply reply) const;

  std::unique_ptr<StreamEncoder> encoder_;
  Generation generation_;
  const bool stream_;
  const bool keep_alive_;
  std::vector<std::pair<std::string, std::string>> headers_;
  Done done_;
  GenerationOutput output_;  // stream=false: everything so far
  std::chrono::steady_clock::time_point submitted_at_;
  bool announce_ttft_ = false;
  bool sent_text_ = false;  // the first text (and its server-ttft-ms comment) went out
  bool ended_ = false;
};

}  // namespace ladle::server
