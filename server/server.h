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
//
// Faults: an exception that escapes a handler on an I/O thread (a Beast callback, a timer, a
// wake-up: whatever the router's own try does not cover) is caught around io_context::run(),
// logged, counted in ladle_internal_errors_total{where="io_thread"}, and the thread goes back to
// run(): one connection's state is lost (its handler's shared_ptrs are released, which closes its
// socket) and every other connection carries on.
//
// NOTE(server): `stop_engine` joins the engine's step thread, which can take a whole step (seconds
// on a large model); it runs on a thread of its own, never on an I/O thread, so the I/O threads
// keep writing the cancelled requests' last events while it does.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
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
class BatchRunner;
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

  // The I/O threads' executor (tests post work to it; connections use their own strands).
  boost::asio::any_io_executor executor() { return ioc_.get_executor(); }

 private:
  Server(ServerConfig config, Metrics* metrics);
  void begin_drain();
  void poll_drain(std::chrono::steady_clock::time_point deadline, bool engine_stopped);
  // Starts stop_engine_ on stopper_ (off the I/O threads); false if there is none to call.
  bool stop_engine_off_io_threads();
  // One I/O thread's life: ioc_.run() until it returns normally, surviving handler exceptions.
  void run_io_thread();

  ServerState state_;
  Router router_;
  boost::asio::io_context ioc_;
  // Shared with every Mailbox (which holds a weak_ptr), so a wake-up after the server is gone
  // finds no queue instead of a dangling one.
  std::shared_ptr<WakeQueue> wake_queue_;
  // Background responses; declared after ioc_ (their strands belong to it), so destroyed first.
  std::unique_ptr<BackgroundStore> background_;
  // The Batches API's runner (its own threads: SQLite's fsyncs stay off the I/O threads); after
  // ioc_, since its jobs hold sessions whose sockets belong to ioc_. wait() joins its threads.
  std::unique_ptr<BatchRunner> batches_;
  std::unique_ptr<ClientTelemetry> client_telemetry_;  // null with --no-client-telemetry
  boost::asio::signal_set signals_;
  boost::asio::steady_timer drain_timer_;
  std::shared_ptr<Listener> listener_;
  std::vector<std::thread> threads_;
  unsigned short port_ = 0;
  // The signal handler and shutdown() may start a drain on two I/O threads at once: the first
  // exchange wins. The poll_drain chain that follows is one handler at a time.
  std::atomic<bool> draining_started_{false};
  std::mutex stop_mu_;
  std::function<void()> stop_engine_;  // GUARDED_BY(stop_mu_)
  std::thread stopper_;                // GUARDED_BY(stop_mu_): runs stop_engine_; joined by wait()
};

}  // namespace ladle::server
