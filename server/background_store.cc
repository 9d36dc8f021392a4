#include "server/background_store.h"

#include <algorithm>

#include <boost/asio/strand.hpp>

#include "server/metrics.h"
#include "server/server_state.h"

namespace ladle::server {

BackgroundStore::BackgroundStore(boost::asio::io_context& ioc, ServerState& state) : ioc_(ioc), state_(state) {}

std::variant<std::shared_ptr<BackgroundResponse>, ApiError> BackgroundStore::start(
    scheduler::Engine& engine, std::unique_ptr<ResponsesEncoder> encoder, scheduler::GenerationRequest request) {
  const auto& config = state_.config();
  const auto budget = static_cast<std::size_t>(config.background_log_mb * 1024 * 1024);
  std::lock_guard lock(mu_);
  sweep_locked(budget);
  int running = 0;
  std::size_t bytes = 0;
  for (const auto& [id, r] : by_id_) {
    running += !r->finished();
    bytes += r->log_bytes();
  }
  if (running >= config.max_background)
    return ApiError{429, "too many background responses are running (--max-background " +
                             std::to_string(config.max_background) + ")", "rate_limit_error", "", "rate_limit_exceeded"};
  if (bytes >= budget)
    return ApiError{429, "the background responses' event logs are full (--background-log-mb)", "rate_limit_error", "",
                    "rate_limit_exceeded"};
  auto response = std::make_shared<BackgroundResponse>(state_, engine, boost::asio::make_strand(ioc_), std::move(encoder));
  if (auto error = response->start(std::move(request))) return *error;
  order_.push_back(response->id());
  by_id_.emplace(response->id(), response);
  publish_locked();
  return response;
}

std::shared_ptr<BackgroundResponse> BackgroundStore::find(const std::string& id) {
  std::lock_guard lock(mu_);
  sweep_locked(static_cast<std::size_t>(state_.config().background_log_mb * 1024 * 1024));
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

bool BackgroundStore::remove(const std::string& id) {
  std::shared_ptr<BackgroundResponse> r;
  {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return false;
    r = std::move(it->second);
    by_id_.erase(it);
    order_.erase(std::find(order_.begin(), order_.end(), id));
    publish_locked();
  }
  r->cancel();
  return true;
}

void BackgroundStore::sweep_locked(std::size_t budget) {
  const auto now = BackgroundResponse::Clock::now();
  const auto ttl = std::chrono::duration<double>(state_.config().background_ttl);
  std::size_t bytes = 0;
  for (const auto& [id, r] : by_id_) bytes += r->log_bytes();
  bool changed = false;
  for (auto it = order_.begin(); it != order_.end();) {
    const auto& r = by_id_.at(*it);
    const auto done = r->finished_at();
    const bool expired = done && now - *done > ttl;
    if (expired || (done && bytes > budget)) {
      bytes -= r->log_bytes();
      by_id_.erase(*it);
      it = order_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) publish_locked();
}

void BackgroundStore::publish_locked() {
  if (state_.metrics()) state_.metrics()->set_background_stored(int(by_id_.size()));
}

int BackgroundStore::num_running() {
  std::lock_guard lock(mu_);
  int running = 0;
  for (const auto& [id, r] : by_id_) running += !r->finished();
  return running;
}

int BackgroundStore::num_stored() {
  std::lock_guard lock(mu_);
  return int(by_id_.size());
}

}  // namespace ladle::server
