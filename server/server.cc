#include "server/server.h"

#include <pthread.h>

#include <cstdio>
#include <exception>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include "server/background_store.h"
#include "server/batch_runner.h"
#include "server/client_telemetry.h"
#include "server/context_thread.h"
#include "server/listener.h"
#include "server/metrics.h"

namespace ladle::server {

namespace net = boost::asio;

Server::Server(ServerConfig config, Metrics* metrics)
    : state_(std::move(config), metrics),
      router_(state_),
      wake_queue_(std::make_shared<WakeQueue>(ioc_.get_executor())),
      signals_(ioc_),
      drain_timer_(ioc_) {
  state_.set_wake_queue(wake_queue_);
  background_ = std::make_unique<BackgroundStore>(ioc_, state_);
  state_.set_background(background_.get());
  batches_ = std::make_unique<BatchRunner>(state_);
  state_.set_batches(batches_.get());
  if (!state_.config().no_client_telemetry) {
    client_telemetry_ = std::make_unique<ClientTelemetry>(
        metrics, [this](std::string_view id) { return state_.issued(id); });
    state_.set_client_telemetry(client_telemetry_.get());
  }
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
  for (int i = 0; i < state_.config().io_threads; ++i) threads_.emplace_back([this] { run_io_thread(); });
}

void Server::run_io_thread() {
  run_context_thread(ioc_, "ladle-io", "an I/O thread", state_.metrics(), "io_thread");
}

void Server::set_engine(scheduler::Engine* engine, std::function<void()> stop_engine) {
  {
    std::lock_guard lock(stop_mu_);
    stop_engine_ = std::move(stop_engine);
  }
  state_.set_engine(engine);
  if (engine) batches_->start(*engine);
}

bool Server::stop_engine_off_io_threads() {
  std::lock_guard lock(stop_mu_);
  if (!stop_engine_ || stopper_.joinable()) return false;
  stopper_ = std::thread([stop = stop_engine_] {
    pthread_setname_np(pthread_self(), "ladle-stop");
    try {
      stop();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "ladle serve: stopping the engine failed: %s\n", e.what());
    }
  });
  return true;
}

void Server::shutdown() {
  net::post(drain_timer_.get_executor(), [this] { begin_drain(); });
}

void Server::wait() {
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  batches_->join();  // its threads call the engine, which may be stopped and destroyed after wait()
  std::thread stopper;
  {
    std::lock_guard lock(stop_mu_);
    stopper = std::move(stopper_);
  }
  if (stopper.joinable()) stopper.join();
}

// NOTE(server): begin_drain may be entered on two I/O threads at once (a signal and shutdown());
// the atomic exchange lets exactly one through. poll_drain runs as a chain of handlers of the same
// timer that never overlap, because each one schedules the next only at its end.
void Server::begin_drain() {
  if (draining_started_.exchange(true)) return;
  std::fprintf(stderr, "ladle serve: draining %d request(s) (up to %.0f s)\n", state_.num_in_flight(),
               state_.config().drain_timeout);
  state_.start_draining();
  batches_->stop();
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
    stop_engine_off_io_threads();
    engine_stopped = true;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(10));
  drain_timer_.async_wait([this, deadline, engine_stopped](boost::system::error_code ec) {
    if (!ec) poll_drain(deadline, engine_stopped);
  });
}

}  // namespace ladle::server
