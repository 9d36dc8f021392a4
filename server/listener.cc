#include "server/listener.h"

#include <algorithm>
#include <cstdio>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include "server/http_session.h"
#include "server/metrics.h"

namespace ladle::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

Listener::Listener(net::io_context& ioc, ServerState& state, const Router& router)
    : ioc_(ioc), acceptor_(net::make_strand(ioc)), state_(state), router_(router),
      backoff_timer_(acceptor_.get_executor()) {}

Status Listener::open(const tcp::endpoint& endpoint) {
  boost::beast::error_code ec;
  auto fail = [&](const char* what) {
    return make_error(ErrorCode::kUnavailable, std::string(what) + " " + endpoint.address().to_string() + ":" +
                                                   std::to_string(endpoint.port()) + ": " + ec.message());
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("cannot open");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) return fail("cannot set reuse_address on");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("cannot bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on");
  return Ok{};
}

unsigned short Listener::port() const {
  boost::beast::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void Listener::run() { net::dispatch(acceptor_.get_executor(), boost::beast::bind_front_handler(&Listener::do_accept, shared_from_this())); }

void Listener::stop() {
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::beast::error_code ec;
    self->acceptor_.close(ec);
    self->backoff_timer_.cancel();
  });
}

void Listener::do_accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         boost::beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(boost::beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // stopped
  if (ec) return back_off(ec);
  if (backoff_.count() > 0) {
    std::fprintf(stderr, "ladle serve: accepting again after %ld failed accept(s)\n", failed_accepts_);
    backoff_ = std::chrono::milliseconds(0);
    failed_accepts_ = 0;
  }
  boost::beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::make_shared<HttpSession>(std::move(socket), state_, router_)->run();
  do_accept();
}

void Listener::back_off(const boost::beast::error_code& ec) {
  using std::chrono::milliseconds;
  if (state_.metrics()) state_.metrics()->on_accept_error();
  ++failed_accepts_;
  if (backoff_.count() == 0) {
    std::fprintf(stderr, "ladle serve: accept: %s; retrying with a back-off of 10 ms doubling to 1 s\n",
                 ec.message().c_str());
    backoff_ = milliseconds(10);
  } else {
    backoff_ = std::min(backoff_ * 2, milliseconds(1000));
  }
  backoff_timer_.expires_after(backoff_);
  backoff_timer_.async_wait([self = shared_from_this()](boost::beast::error_code wait_ec) {
    if (!wait_ec && self->acceptor_.is_open()) self->do_accept();
  });
}

}  // namespace ladle::server
