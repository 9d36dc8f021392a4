// Server: the whole HTTP front end of `ladle serve` — I/O threads, listener, route table, shared
// state and graceful shutdown (Beast advanced_server's main, as a class so tests can run it
// in-process on a free port).
//
// Lifecycle: create() binds the port; start() launches the I/O threads (and, if asked, a SIGINT/
// SIGTERM handler); set_engine() makes generation endpoints available (before it they answer 503
// "loading"); shutdown() drains: stop accepting, refuse new generations with 503, let in-flight
// ones finish for --drain-timeout, then call `stop_engine` (which cancels the rest) and stop the
// I/O threads. wait() returns when that is done.
//
// Ownership: the caller owns the Server; the engine and metrics must outlive it. Threads: start,
// wait and the destructor from the owning thread; set_engine and shutdown from any thread.
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "kvcache/expected.h"
#include "scheduler/engine.h"
#include "server/router.h"
#include "server/server_config.h"
#include "server/server_state.h"
#include "server/wake_queue.h"

namespace ladle::server {

class BackgroundStore;
class ClientTelemetry;
class Listener;
class Metrics;

class Server {
 public:
  // Validates `config` and binds host:port. `metrics` may be null.
  static Expected<std::unique_ptr<Server>> create(ServerConfig config, Metrics* metrics);
  ~Server();

  unsigned short port() const { return port_; }
  ServerState& state() { return state_; }

  void start(bool handle_signals);
  // `stop_engine` must make the engine cancel everything still in flight (LlmEngine::stop()).
  void set_engine(scheduler::Engine* engine, std::function<void()> stop_engine);
  void shutdown();
  void wait();

 private:
  Server(ServerConfig config, Metrics* metrics);
  void begin_drain();
  void poll_drain(std::chrono::steady_clock::time_point deadline, bool engine_stopped);

  ServerState state_;
  Router router_;
  std::function<void()> stop_engine_;  // set before shutdown can observe it (see set_engine)
  boost::asio::io_context ioc_;
  // Declared after ioc_: destroyed first, while a drain it posted can only be destroyed, not run.
  WakeQueue wake_queue_{ioc_.get_executor()};
  // Background responses; declared after ioc_ (their strands belong to it), so destroyed first.
  std::unique_ptr<BackgroundStore> background_;
  std::unique_ptr<ClientTelemetry> client_telemetry_;  // null with --no-client-telemetry
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drain_timer_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  unsigned short port_ = 0;
  bool draining_started_ = false;  // only touched on drain_timer_'s handlers / begin_drain (one at a time)
};

}  // namespace ladle::server
