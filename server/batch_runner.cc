#include "server/batch_runner.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "server/batch_input.h"
#include "server/context_thread.h"
#include "server/json_fields.h"
#include "server/metrics.h"
#include "server/sqlite_batch_store.h"

namespace ladle::server {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string batch_output_line(const std::string& id, const std::string& custom_id, const HttpReply& reply,
                              const std::string& request_id) {
  json body = json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) body = reply.body;
  return dump({{"id", id},
               {"custom_id", custom_id},
               {"response", {{"status_code", reply.status}, {"request_id", request_id}, {"body", std::move(body)}}},
               {"error", nullptr}});
}

std::string batch_error_line(const std::string& id, const std::string& custom_id, const std::string& code,
                             const std::string& message) {
  return dump({{"id", id},
               {"custom_id", custom_id},
               {"response", nullptr},
               {"error", {{"code", code}, {"message", message}}}});
}

BatchRunner::BatchRunner(ServerState& state)
    : state_(state),
      work_(boost::asio::make_work_guard(ctx_)),
      strand_(boost::asio::make_strand(ctx_)),
      retry_timer_(strand_) {
  for (int i = 0; i < kThreads; ++i) threads_.emplace_back([this] { run_thread(); });
}

BatchRunner::~BatchRunner() { join(); }

void BatchRunner::join() {
  work_.reset();
  ctx_.stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void BatchRunner::run_thread() {
  run_context_thread(ctx_, "ladle-batch", "a batch runner thread", state_.metrics(), "batch_thread");
}

void BatchRunner::run_store_job(std::function<HttpReply()> job, std::function<void(HttpReply)> done) {
  boost::asio::post(ctx_, [job = std::move(job), done = std::move(done)] { done(job()); });
}

Expected<BatchStore*> BatchRunner::store() {
  std::lock_guard lock(store_mu_);
  return store_locked();
}

void BatchRunner::set_store_opener(StoreOpener opener) {
  std::lock_guard lock(store_mu_);
  opener_ = std::move(opener);
}

Expected<BatchStore*> BatchRunner::store_locked() {
  if (store_) return store_.get();
  const std::string& dir = state_.config().data_dir;
  if (dir.empty())
    return make_error(ErrorCode::kUnavailable, "the Files and Batches APIs need a data dir (--data-dir)");
  if (opener_) {
    auto opened = opener_(dir);
    if (!opened) return opened.error();
    store_ = std::move(*opened);
  } else {
    auto opened = SqliteBatchStore::open(dir);
    if (!opened) return opened.error();
    store_ = std::move(*opened);
  }
  return store_.get();
}

void BatchRunner::start(scheduler::Engine& engine) {
  boost::asio::post(strand_, [this, e = &engine] {
    engine_ = e;
    resume();
  });
}

void BatchRunner::enqueue(const std::string& batch_id) {
  boost::asio::post(strand_, [this, batch_id] {
    if (engine_) validate(batch_id);  // before the engine, start() resumes it from the store
  });
}

void BatchRunner::cancelled(const std::string& batch_id) {
  boost::asio::post(strand_, [this, batch_id] {
    auto it = active_.find(batch_id);
    if (it == active_.end()) {  // not started here (validating, or before start()): finish it now
      if (engine_) finish(batch_id, BatchStatus::kCancelled);
      return;
    }
    it->second.ending = BatchStatus::kCancelled;
    it->second.queued.clear();
    for (auto& [key, line] : running_)
      if (key.first == batch_id) line->cancel();
    maybe_finish(batch_id);
    publish();
  });
}

void BatchRunner::stop() {
  boost::asio::post(strand_, [this] {
    stopping_ = true;
    retry_timer_.cancel();
    for (auto& [key, line] : running_) line->cancel();
  });
}

BatchRunner::Counts BatchRunner::counts() {
  std::lock_guard lock(counts_mu_);
  return counts_;
}

void BatchRunner::log_error(const std::string& what, const Error& error) {
  std::fprintf(stderr, "ladle serve: batches: %s: %s\n", what.c_str(), error.message.c_str());
}

// Opens the store only when the data dir already has one: a server that never saw a batch
// creates nothing.
void BatchRunner::resume() {
  {
    std::lock_guard lock(store_mu_);
    const std::string& dir = state_.config().data_dir;
    std::error_code ec;
    if (!store_ && !dir.empty() && std::filesystem::exists(dir + "/batches.sqlite3", ec))
      if (auto s = store_locked(); !s) return log_error("cannot resume", s.error());
    if (!store_) return;
  }
  auto batches = store_->unfinished_batches();
  if (!batches) return log_error("cannot resume", batches.error());
  for (const auto& b : *batches) {
    switch (b.status) {
      case BatchStatus::kValidating: validate(b.id); break;
      case BatchStatus::kInProgress: activate(b); break;
      case BatchStatus::kFinalizing: finish(b.id, BatchStatus::kCompleted); break;
      case BatchStatus::kCancelling: finish(b.id, BatchStatus::kCancelled); break;
      default: break;
    }
  }
  if (!batches->empty())
    std::fprintf(stderr, "ladle serve: batches: resumed %zu unfinished batch(es)\n", batches->size());
  publish();
  fill();
}

void BatchRunner::validate(const std::string& batch_id) {
  auto batch = store_->batch(batch_id);
  if (!batch || !*batch) return log_error("validate " + batch_id, batch ? Error{ErrorCode::kNotFound, "gone"} : batch.error());
  const BatchRecord& b = **batch;
  auto content = store_->file_content(b.input_file_id);
  if (!content) return log_error("validate " + batch_id, content.error());
  ValidatedInput input;
  if (!*content) {
    input.errors.push_back({{"code", "file_not_found"},
                            {"message", "the input file " + b.input_file_id + " was deleted"},
                            {"param", "input_file_id"},
                            {"line", nullptr}});
    input.num_errors = 1;
  } else {
    input = validate_batch_input(*engine_, **content, b.endpoint, static_cast<std::size_t>(state_.config().max_body));
  }
  if (input.num_errors > 0) {
    auto failed = store_->fail_batch(batch_id, dump({{"object", "list"}, {"data", input.errors}}), unix_now());
    if (!failed) log_error("fail " + batch_id, failed.error());
    else if (!*failed) finish(batch_id, BatchStatus::kCancelled);  // cancelled while validating
    return publish();
  }
  auto started = store_->start_lines(batch_id, input.lines, unix_now());
  if (!started) return log_error("start " + batch_id, started.error());
  auto now_batch = store_->batch(batch_id);
  if (!now_batch || !*now_batch) return;
  if ((*now_batch)->status == BatchStatus::kCancelling) finish(batch_id, BatchStatus::kCancelled);
  else activate(**now_batch);
  publish();
  fill();
}

void BatchRunner::activate(const BatchRecord& b) {
  auto pending = store_->pending_lines(b.id);
  if (!pending) return log_error("resume " + b.id, pending.error());
  Active& a = active_[b.id];
  a.endpoint = b.endpoint;
  a.expires_at = b.expires_at;
  a.queued.assign(pending->begin(), pending->end());
  order_.push_back(b.id);
  maybe_finish(b.id);
}

void BatchRunner::fill() {
  if (stopping_ || !engine_ || state_.health() == Health::kDraining) return;
  const int limit = state_.config().batch_max_in_flight;
  for (std::size_t i = 0; i < order_.size() && static_cast<int>(running_.size()) < limit;) {
    const std::string id = order_[i];
    Active& a = active_.at(id);
    if (!a.ending && unix_now() >= a.expires_at) {  // past its completion_window
      a.ending = BatchStatus::kExpired;
      a.queued.clear();
      for (auto& [key, line] : running_)
        if (key.first == id) line->cancel();
      maybe_finish(id);
      continue;  // order_ may have lost `id`: look at index i again
    }
    if (a.ending || a.queued.empty()) {
      ++i;
      continue;
    }
    const int line = a.queued.front();
    a.queued.pop_front();
    if (!start_line(id, a, line)) break;
  }
  // A line refused at submit has its result at once: its batch may have nothing left to run.
  for (const std::string& id : std::vector<std::string>(order_.begin(), order_.end())) maybe_finish(id);
  publish();
}

bool BatchRunner::start_line(const std::string& id, Active& a, int line_number) {
  auto input = store_->line(id, line_number);
  if (!input) {
    log_error("read a line of " + id, input.error());
    a.queued.push_front(line_number);
    retry_later();
    return false;
  }
  const auto endpoint = batch_endpoint_from(a.endpoint).value_or(BatchEndpoint::kCompletions);
  const std::string request_id = state_.next_id("req_");
  auto prepared = prepare_batch_line(*engine_, endpoint, input->body,
                                     LineIds{state_.next_id(response_id_prefix(endpoint)), request_id, unix_now()});
  const std::string line_id = state_.next_id("batch_req_");
  if (auto* e = std::get_if<ApiError>(&prepared)) {  // validated, so only if the model changed since
    commit(id, LineResult{line_number, true, batch_output_line(line_id, input->custom_id, error_reply(*e), request_id)});
    return true;
  }
  auto& job = std::get<GenerationJob>(prepared);
  auto done = [this, custom_id = input->custom_id, request_id, line_id](BatchLine& l, HttpReply reply,
                                                                      const scheduler::Finish& finish) {
    const bool cancelled = finish.reason == scheduler::FinishReason::kCancelled;
    auto it = active_.find(l.batch_id());
    const bool ending = it != active_.end() && it->second.ending;
    auto keep = running_[{l.batch_id(), l.line()}];  // alive until this returns
    running_.erase({l.batch_id(), l.line()});
    if (it != active_.end()) --it->second.running;
    // Cancelled by the batch's end or by the drain: no result, so finalize lists it (cancel,
    // expiry) or the next start runs it again (drain).
    if (!(cancelled && (ending || stopping_)))
      commit(l.batch_id(), LineResult{l.line(), reply.status >= 400,
                                      batch_output_line(line_id, custom_id, reply, request_id)});
    maybe_finish(l.batch_id());
    fill();
  };
  auto line = std::make_shared<BatchLine>(*engine_, strand_, id, line_number, std::move(job.encoder), std::move(done));
  if (auto error = line->start(std::move(job.request), state_.wake_queue())) {
    if (error->status == 429 || error->status == 503) {  // a full queue, or a stopping engine: later
      a.queued.push_front(line_number);
      retry_later();
      return false;
    }
    commit(id, LineResult{line_number, true, batch_output_line(line_id, input->custom_id, error_reply(*error), request_id)});
    return true;
  }
  ++a.running;
  running_[{id, line_number}] = std::move(line);
  return true;
}

// NOTE(batch): a result is counted only once committed. When the store refuses it (full disk),
// the result waits in memory and is retried every second; the line is not run again.
void BatchRunner::commit(const std::string& batch_id, LineResult result) {
  auto committed = store_->commit_line(batch_id, result);
  if (!committed) {
    log_error("commit a line of " + batch_id, committed.error());
    uncommitted_.emplace_back(batch_id, std::move(result));
    return retry_later();
  }
  if (*committed && state_.metrics()) state_.metrics()->on_batch_line_done(result.failed);
}

void BatchRunner::retry_later() {
  if (retry_armed_ || stopping_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(std::chrono::seconds(1));
  retry_timer_.async_wait([this](boost::system::error_code ec) {
    retry_armed_ = false;
    if (ec) return;
    auto pending = std::move(uncommitted_);
    uncommitted_.clear();
    std::vector<std::string> touched;
    for (auto& [id, result] : pending) {
      commit(id, std::move(result));
      touched.push_back(id);
    }
    for (const auto& id : touched) maybe_finish(id);
    fill();
  });
}

void BatchRunner::maybe_finish(const std::string& batch_id) {
  auto it = active_.find(batch_id);
  if (it == active_.end() || it->second.running > 0 || !it->second.queued.empty()) return;
  for (const auto& [id, result] : uncommitted_)
    if (id == batch_id) return;  // a result still waits for the store
  const std::optional<BatchStatus> ending = it->second.ending;
  if (!ending) {
    auto moved = store_->begin_finalizing(batch_id, unix_now());
    if (!moved) return log_error("finalize " + batch_id, moved.error()), retry_later();
  }
  active_.erase(it);
  order_.erase(std::find(order_.begin(), order_.end(), batch_id));
  finish(batch_id, ending.value_or(BatchStatus::kCompleted));
}

void BatchRunner::finish(const std::string& batch_id, BatchStatus status) {
  const char* code = status == BatchStatus::kExpired ? "batch_expired" : "batch_cancelled";
  const char* message = status == BatchStatus::kExpired
                            ? "the batch expired (completion_window) before this request ran"
                            : "the batch was cancelled before this request finished";
  auto done = store_->finalize(batch_id, status, unix_now(), state_.next_id("file-"), state_.next_id("file-"),
                               [&](int, const std::string& custom_id) {
                                 return batch_error_line(state_.next_id("batch_req_"), custom_id, code, message);
                               });
  if (!done) log_error("finalize " + batch_id, done.error());
  publish();
}

void BatchRunner::publish() {
  Counts c;
  for (const auto& [id, a] : active_) c.queued += static_cast<int>(a.queued.size());
  c.running = static_cast<int>(running_.size());
  {
    std::lock_guard lock(counts_mu_);
    counts_ = c;
  }
  Metrics* metrics = state_.metrics();
  if (!metrics) return;
  metrics->set_batch_lines(c.queued, c.running);
  if (!store_) return;
  if (auto by_status = store_->count_by_status()) metrics->set_batches(*by_status);
}

}  // namespace ladle::server
