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
// NOTE(batch): validation and the store's writes run on the runner's strand, an I/O thread; a
// large input file (validation tokenizes every line) holds that thread for its duration.
//
// Ownership: Server owns it (after its io_context). Threads: public methods from any thread.
#pragma once

#include <array>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "server/batch_line.h"
#include "server/batch_store.h"
#include "server/server_state.h"

namespace ladle::server {

class BatchRunner {
 public:
  BatchRunner(boost::asio::io_context& ioc, ServerState& state);
  ~BatchRunner();

  // The store, opened (and the data dir created) on first use; kUnavailable with the reason when
  // it cannot be (retried at the next call).
  Expected<BatchStore*> store();

  // The engine is ready: opens the store if --data-dir already holds one and resumes its
  // unfinished batches.
  void start(scheduler::Engine& engine);
  // A batch was just stored as validating: validate and run it.
  void enqueue(const std::string& batch_id);
  // The batch moved to cancelling (store.cancel_batch): stop its lines and finish it.
  void cancelled(const std::string& batch_id);
  // Draining: see the header comment.
  void stop();

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

  ServerState& state_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::steady_timer retry_timer_;  // strand only
  std::mutex store_mu_;
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
