#include "server/server.h"

#include <pthread.h>

#include <cstdio>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "server/background_store.h"
#include "server/listener.h"

namespace ladle::server {

namespace net = boost::asio;

Server::Server(ServerConfig config, Metrics* metrics)
    : state_(std::move(config), metrics), router_(state_), signals_(ioc_), drain_timer_(ioc_) {
  state_.set_wake_queue(&wake_queue_);
  background_ = std::make_unique<BackgroundStore>(ioc_, state_);
  state_.set_background(background_.get());
}

Server::~Server() {
  ioc_.stop();
  wait();
}

Expected<std::unique_ptr<Server>> Server::create(ServerConfig config, Metrics* metrics) {
  if (Status s = config.validate(); !s.ok()) return s.error();
  boost::system::error_code ec;
  auto address = net::ip::make_address(config.host, ec);
  if (ec) return make_error(ErrorCode::kInvalidArgument, "--host '" + config.host + "' is not an IP address");
  net::ip::tcp::endpoint endpoint(address, static_cast<unsigned short>(config.port));
  std::unique_ptr<Server> server(new Server(std::move(config), metrics));
  server->listener_ = std::make_shared<Listener>(server->ioc_, server->state_, server->router_);
  if (Status s = server->listener_->open(endpoint); !s.ok()) return s.error();
  server->port_ = server->listener_->port();
  const std::string& replica = server->state_.config().replica_id;
  server->state_.set_replica(!replica.empty() ? replica
                                              : server->state_.config().host + ":" + std::to_string(server->port_));
  return server;
}

void Server::start(bool handle_signals) {
  if (handle_signals) {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      begin_drain();
      signals_.async_wait([this](boost::system::error_code ec2, int) {
        if (!ec2) ioc_.stop();  // a second signal: stop now
      });
    });
  }
  listener_->run();
  for (int i = 0; i < state_.config().io_threads; ++i)
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "ladle-io");  // for top -H, perf and taskset
      ioc_.run();
    });
}

void Server::set_engine(scheduler::Engine* engine, std::function<void()> stop_engine) {
  net::post(drain_timer_.get_executor(), [this, stop = std::move(stop_engine)]() mutable { stop_engine_ = std::move(stop); });
  state_.set_engine(engine);
}

void Server::shutdown() {
  net::post(drain_timer_.get_executor(), [this] { begin_drain(); });
}

void Server::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

// NOTE(server): begin_drain and poll_drain run as handlers of the same io_context but may land on
// different threads; they never overlap because each one schedules the next only at its end.
void Server::begin_drain() {
  if (draining_started_) return;
  draining_started_ = true;
  std::fprintf(stderr, "ladle serve: draining %d request(s) (up to %.0f s)\n", state_.num_in_flight(),
               state_.config().drain_timeout);
  state_.start_draining();
  listener_->stop();
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(state_.config().drain_timeout));
  poll_drain(deadline, false);
}

void Server::poll_drain(std::chrono::steady_clock::time_point deadline, bool engine_stopped) {
  auto now = std::chrono::steady_clock::now();
  if (state_.num_in_flight() == 0 || (engine_stopped && now > deadline + std::chrono::seconds(5))) {
    ioc_.stop();
    return;
  }
  if (!engine_stopped && now >= deadline) {
    std::fprintf(stderr, "ladle serve: drain timeout, cancelling %d request(s)\n", state_.num_in_flight());
    if (stop_engine_) stop_engine_();
    engine_stopped = true;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(10));
  drain_timer_.async_wait([this, deadline, engine_stopped](boost::system::error_code ec) {
    if (!ec) poll_drain(deadline, engine_stopped);
  });
}

}  // namespace ladle::server
