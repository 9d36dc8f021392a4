// HttpSession: one client connection. Reads a request (with a timeout and a body limit), routes
// it, and either writes the reply or hands the connection to an HttpStream (a generation) or a
// LogFollower (a background response's log).
// A Files or Batches API request runs on the batch runner's threads (StoreJob), and its reply is
// written back here.
// Keep-alive and pipelining-safe: requests are answered strictly in order, bytes of the next
// request that arrive during a generation stay in the buffer for the next read.
//
// While a generation is in flight the session keeps a read pending on the socket, so EOF or a
// reset is seen at once (SseWriter::client_gone: a generation is cancelled, a follower just ends).
//
// Limits and timeouts: an idle keep-alive connection waits --idle-timeout for its next request;
// from the request's first byte its request line and headers must arrive within
// --header-timeout (a slowloris client is cut there, before anything reaches the engine) and
// fit --max-header-bytes, --max-header-count and --max-url-length (431/414); the body must fit
// --max-body (413). A connection beyond --max-connections gets 503 at once. Every such early
// reply is followed by a lingering close (see do_close).
//
// A stuck reader: once a generation starts, the socket's send queue is capped (SO_SNDBUF and
// TCP_NOTSENT_LOWAT), so a client that stops reading stalls the stream's writes after a few KiB
// instead of after the megabytes the kernel would otherwise queue, and SseStream's
// --stall-timeout cuts it soon after it stopped reading.
//
// Ownership: shared_ptr; every pending handler binds shared_from_this(), so the session lives
// exactly as long as something is pending. Threads: all on the connection's strand.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/router.h"
#include "server/server_state.h"

namespace ladle::server {

class SseWriter;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, ServerState& state, const Router& router);
  ~HttpSession();

  // Starts reading on the connection's strand.
  void run();

 private:
  void do_read();
  void read_header();
  void on_header(boost::beast::error_code ec, std::size_t bytes);
  std::optional<ApiError> check_header_limits() const;
  void reject_early(const ApiError& error, std::string_view reason);
  void read_body();
  // The body limit of a request to `target`: --max-file-mb for uploads, --max-body otherwise.
  std::uint64_t body_limit_for(boost::beast::http::verb method, std::string_view target) const;
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void start_generation(GenerationJob job);
  void start_follow(FollowJob job);
  void start_store_job(StoreJob job);
  void start_realtime();
  void on_generation_done(std::optional<HttpReply> reply, bool close);
  void do_write(HttpReply reply);
  void on_write(bool close, boost::beast::error_code ec, std::size_t bytes);
  void watch();
  void on_watch(boost::beast::error_code ec, std::size_t bytes);
  void next_request();
  void do_close();
  void do_linger();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  ServerState& state_;
  const Router& router_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<boost::beast::http::response<boost::beast::http::string_body>> response_;
  std::shared_ptr<SseWriter> generation_;  // a generation or a log follower in flight
  bool keep_alive_ = true;
  bool watching_ = false;           // a watch read is pending
  bool read_after_watch_ = false;   // start the next request read when the watch read completes
  bool linger_ = false;             // an early reply: drain what the client still sends before closing
  bool lingering_ = false;          // do_close is draining
  std::size_t linger_left_ = 0;     // bytes the drain may still discard
  const bool over_capacity_;        // opened beyond --max-connections
};

}  // namespace ladle::server
