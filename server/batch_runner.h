// BatchRunner: runs the batches of the Batches API through the engine, durably. It owns the
// BatchStore (opened on first use under --data-dir) and, on its own strand:
//   - validates a new batch's input file (batch_input.h): failed with the listed errors, or
//     in_progress with its lines stored;
//   - keeps at most --batch-max-in-flight lines running in the engine (oldest batch first), each
//     as a detached BatchLine of class kBatch, and commits each line's result (store.commit_line)
//     before counting it;
//   - when a batch has no line left: finalizing, then one transaction writes its output and error
//     files and completes it. A cancelled batch stops its running lines, keeps the finished ones
//     and lists the rest in the error file (code batch_cancelled); a batch past its
//     completion_window does the same as expired (batch_expired).
// A restarted server resumes from the store (start()): lines without a committed result run
// again, committed ones never do, so each input line appears exactly once in the output or the
// error file however often the process dies.
//
// On drain (stop()) no new line starts and running ones are cancelled without a result: they
// run again at the next start. Batch lines do not count as generations in flight, so they never
// hold up a drain.
//
// Threads: the runner owns a small io_context of its own (kThreads threads, "ladle-batch"), and no
// SQLite call runs on an I/O thread. Its strand does the runner's own work (validation, the
// store's reads and writes, BatchLine's wake-ups and its reply encoding); the Files and Batches
// API's handlers run as store jobs on its other thread (run_store_job), so that a GET does not
// wait for a long validation. The session writes their reply back on its own strand.
//
// NOTE(batch): every finished line is a SQLite transaction with synchronous=FULL, two fsyncs (1 ms
// p50, 31 ms worst on the 2-vCPU Zen 4, loaded). On the runner's strand of the server's I/O
// io_context they stalled every stream's SSE writes: strace counted 188 fsyncs and 788 ms blocked
// in 10 s of a 2,000-line batch beside 8 streams (BENCHMARKS.md). A thread of its own moves the
// wait off the I/O thread; tests/server/batch_api_test.cc holds a commit and streams meanwhile.
//
// Ownership: Server owns it, after its io_context. Server::wait() calls join() once the I/O
// threads are joined, so that no runner thread touches the engine after wait(); a job left
// queued then is dropped (a finished line not yet committed runs again at the next start, as on
// a drain). Threads: public methods from any thread.
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "server/batch_line.h"
#include "server/batch_store.h"
#include "server/http_reply.h"
#include "server/server_state.h"

namespace ladle::server {

class BatchRunner {
 public:
  // The runner's strand, and a second thread for the HTTP handlers' store jobs.
  static constexpr int kThreads = 2;

  // Starts the runner's threads.
  explicit BatchRunner(ServerState& state);
  // join(), then the store is closed.
  ~BatchRunner();

  // The store, opened (and the data dir created) on first use; kUnavailable with the reason when
  // it cannot be (retried at the next call).
  Expected<BatchStore*> store();
  // How store() opens it: the seam for another BatchStore (a server database shared by replicas;
  // tests wrap the SQLite one). Before the first store(); the default opens SqliteBatchStore.
  using StoreOpener = std::function<Expected<std::unique_ptr<BatchStore>>(const std::string& data_dir)>;
  void set_store_opener(StoreOpener opener);

  // Runs `job` (a Files or Batches API handler: it reads or writes the store) on a runner thread,
  // then `done` with its reply, there too. Never on an I/O thread: SQLite's fsyncs take
  // milliseconds. A job still queued at join() is dropped, `done` with it.
  void run_store_job(std::function<HttpReply()> job, std::function<void(HttpReply)> done);

  // The engine is ready: opens the store if --data-dir already holds one and resumes its
  // unfinished batches.
  void start(scheduler::Engine& engine);
  // A batch was just stored as validating: validate and run it.
  void enqueue(const std::string& batch_id);
  // The batch moved to cancelling (store.cancel_batch): stop its lines and finish it.
  void cancelled(const std::string& batch_id);
  // Draining: see the header comment.
  void stop();
  // Stops the runner's threads (after the one running now finishes its handler: a commit in
  // progress completes) and joins them; queued work is dropped. Idempotent; from the owner's
  // thread (Server::wait, the destructor).
  void join();

  // Lines queued and running, for tests and metrics.
  struct Counts {
    int queued = 0, running = 0;
  };
  Counts counts();

 private:
  struct Active {
    std::string endpoint;
    std::int64_t expires_at = 0;
    std::deque<int> queued;                  // lines to start, in order
    int running = 0;
    std::optional<BatchStatus> ending;       // cancelled or expired: no new line, finish when idle
  };

  Expected<BatchStore*> store_locked();
  void resume();
  void validate(const std::string& batch_id);
  void activate(const BatchRecord& batch);
  void fill();
  // Starts one line of `id`: false when the engine cannot take it now (the line is queued again).
  bool start_line(const std::string& id, Active& batch, int line);
  void on_line_done(BatchLine& line, HttpReply reply, const scheduler::Finish& finish);
  void commit(const std::string& batch_id, LineResult result);
  void retry_later();
  void maybe_finish(const std::string& batch_id);
  void finish(const std::string& batch_id, BatchStatus status);
  void log_error(const std::string& what, const Error& error);
  void publish();
  // One runner thread's life: ctx_.run() until stopped, surviving handler exceptions (as the
  // server's I/O threads do).
  void run_thread();

  ServerState& state_;
  boost::asio::io_context ctx_;  // first: destroyed last, after everything bound to it
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer retry_timer_;  // strand only
  std::mutex store_mu_;
  StoreOpener opener_;                 // GUARDED_BY(store_mu_)
  std::unique_ptr<BatchStore> store_;  // GUARDED_BY(store_mu_); never reset once open
  // Strand only:
  scheduler::Engine* engine_ = nullptr;
  std::map<std::string, Active> active_;
  std::deque<std::string> order_;  // active batch ids, oldest first
  std::map<std::pair<std::string, int>, std::shared_ptr<BatchLine>> running_;
  std::deque<std::pair<std::string, LineResult>> uncommitted_;  // results the store refused (full disk)
  bool retry_armed_ = false;
  bool stopping_ = false;
  std::mutex counts_mu_;
  Counts counts_;  // GUARDED_BY(counts_mu_)
  std::vector<std::thread> threads_;  // last: started once everything above is built
};

// The line of the output or error file for a finished request: {id, custom_id, response:
// {status_code, request_id, body}, error: null}; `body` is the endpoint's reply body.
std::string batch_output_line(const std::string& id, const std::string& custom_id, const HttpReply& reply,
                              const std::string& request_id);
// The error-file line of a request that never ran: {id, custom_id, response: null, error: {code,
// message}}.
std::string batch_error_line(const std::string& id, const std::string& custom_id, const std::string& code,
                             const std::string& message);

}  // namespace ladle::server
