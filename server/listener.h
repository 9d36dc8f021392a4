// Listener: accepts TCP connections and starts one HttpSession per connection on its own strand
// (TCP_NODELAY set, so each SSE event leaves as soon as it is written).
//
// Ownership: shared_ptr held by Server and by its pending accept. Threads: runs on its own strand;
// stop() may be called from any thread.
#pragma once

#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
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

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  ServerState& state_;
  const Router& router_;
};

}  // namespace ladle::server
