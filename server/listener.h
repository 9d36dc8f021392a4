// Listener: accepts TCP connections and starts one HttpSession per connection on its own strand
// (TCP_NODELAY set, so each SSE event leaves as soon as it is written).
//
// A failed accept (out of file descriptors, above all: the connection stays in the backlog and
// the acceptor stays readable) is retried after a back-off of 10 ms doubling to 1 s, not at once:
// an immediate retry spins a core and floods the log. Each failure counts in
// ladle_accept_errors_total; the log gets one line when a back-off episode starts and one when
// an accept succeeds again.
//
// Ownership: shared_ptr held by Server and by its pending accept. Threads: runs on its own strand;
// stop() may be called from any thread.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>

#include "kvcache/expected.h"
#include "server/router.h"
#include "server/server_state.h"

namespace ladle::server {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(boost::asio::io_context& ioc, ServerState& state, const Router& router);

  // Opens, binds and listens; fails with a message (address in use, bad host, ...).
  Status open(const boost::asio::ip::tcp::endpoint& endpoint);
  // The bound port (useful after binding port 0).
  unsigned short port() const;
  // Starts accepting.
  void run();
  // Stops accepting; existing sessions continue.
  void stop();

 private:
  void do_accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);
  void back_off(const boost::beast::error_code& ec);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  ServerState& state_;
  const Router& router_;
  boost::asio::steady_timer backoff_timer_;  // on the acceptor's strand
  std::chrono::milliseconds backoff_{0};      // 0: not backing off
  long failed_accepts_ = 0;                   // in the current back-off episode
};

}  // namespace ladle::server
