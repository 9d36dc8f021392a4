// RealtimeSession: one `GET /v1/realtime` WebSocket (Boost.Beast, on the HTTP listener's port):
// a conversation that lives as long as the connection, and at most one response in flight.
//
// - The conversation's items (user, system and the assistant's answers) are rendered by the chat
//   template for each response.create, so every turn reuses the previous turns' KV blocks
//   through the prefix cache.
// - response.cancel reaches the engine at once (the sequence leaves the batch, its blocks are
//   freed within a step) and response.done says cancelled; the connection stays open for the next
//   turn. Closing the socket cancels too.
// - Backpressure as for SSE: one write in flight; the engine's text merges in the mailbox while
//   the socket is behind; a write that makes no progress for --stall-timeout closes the socket.
//   Events queued while a write is in flight (errors, item acks) are bounded (kMaxQueued bytes):
//   a client that floods without reading is closed with 1008.
// - Bad frames (binary, not JSON, unknown type, missing fields, too large for --max-body) get an
//   `error` event naming the client's event_id, and the connection keeps working; a frame over
//   four times --max-body is a protocol violation (1009, message too big). Idle connections are
//   kept alive with pings and closed after --idle-timeout without a pong.
//
// Ownership: shared_ptr; pending handlers hold shared_from_this(). Threads: the connection's strand.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "server/generation.h"
#include "server/realtime_encoder.h"
#include "server/realtime_protocol.h"
#include "server/server_state.h"

namespace ladle::server {

class RealtimeSession : public std::enable_shared_from_this<RealtimeSession>, private EventOut {
 public:
  RealtimeSession(boost::beast::tcp_stream&& stream, ServerState& state);
  // The connection counts against --max-connections for as long as the session lives (its
  // HttpSession, which counted it until the upgrade, is gone by then).
  ~RealtimeSession();

  // Accepts the upgrade `request` (already authorized), echoing `subprotocol` if not empty.
  void run(boost::beast::http::request<boost::beast::http::string_body> request, std::string subprotocol);

 private:
  struct Item {
    std::string id;
    ChatMessage message;
  };

  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void handle(const ClientEvent& e);
  void create_response(const ClientEvent& e);
  void send_error(const std::string& code, const std::string& message, const std::string& client_event_id,
                  const std::string& param = "");
  void pump();  // the generation's updates → events
  void end_response();
  // EventOut: queue one server event (a text message).
  void event(std::string_view type, std::string_view data, std::int64_t id) override;
  void comment(std::string_view) override {}
  void flush();
  void on_write(boost::beast::error_code ec);
  void arm_stall_check();
  void close(boost::beast::websocket::close_code code, std::string reason);
  void gone();

  static constexpr std::size_t kMaxQueued = 1 << 20;

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  ServerState& state_;
  boost::beast::flat_buffer buffer_;
  boost::asio::steady_timer stall_timer_;
  EventIds ids_;
  const std::string session_id_;
  RealtimeSettings settings_;
  std::vector<Item> items_;
  // The response in flight, if any.
  std::unique_ptr<Generation> generation_;
  std::unique_ptr<RealtimeEncoder> encoder_;
  std::deque<std::string> queued_;  // messages waiting for the write in flight
  std::size_t queued_bytes_ = 0;
  std::string writing_;             // the message being written (empty: none)
  std::chrono::steady_clock::time_point write_started_{};
  bool stall_armed_ = false;
  bool closed_ = false;
};

}  // namespace ladle::server
