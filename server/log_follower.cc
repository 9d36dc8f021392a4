#include "server/log_follower.h"

#include <boost/asio/post.hpp>

#include "server/metrics.h"

namespace ladle::server {

LogFollower::LogFollower(boost::beast::tcp_stream& socket, ServerState& state,
                         std::shared_ptr<BackgroundResponse> response, std::int64_t after, bool keep_alive,
                         bool http11, Done done)
    : SseWriter(socket, state, http11), response_(std::move(response)), last_(after),
      keep_alive_(keep_alive && http11), done_(std::move(done)) {}

void LogFollower::start() {
  state_.generation_started();
  if (state_.metrics()) state_.metrics()->on_background_resume();
  queue_head(keep_alive_);
  start_pings();
  pull();
}

// Copies what the log has after last_ into the outbox (one bounded piece), or registers to be
// woken when more arrives.
void LogFollower::pull() {
  if (ended_ || write_in_flight() || ended_body()) return;
  piece_.clear();
  std::weak_ptr<SseWriter> weak = weak_from_this();
  auto executor = socket_.get_executor();
  auto wake = [weak, executor] {
    boost::asio::post(executor, [weak] {
      if (auto self = weak.lock()) static_cast<LogFollower&>(*self).pull();
    });
  };
  const auto read = response_->read_after(last_, piece_, kMaxWrite, wake);
  if (read.last > last_) {
    if (!live_ && state_.metrics()) state_.metrics()->on_background_replayed(int(read.last - last_));
    last_ = read.last;
    raw(piece_);
  } else {
    live_ = true;
  }
  if (read.complete) queue_end();
  flush();
}

void LogFollower::client_gone() { end(true); }

void LogFollower::end(bool close) {
  if (ended_) return;
  ended_ = true;
  stop_timers();
  state_.generation_ended();
  Done done = std::move(done_);
  done_ = nullptr;
  done(close);
}

}  // namespace ladle::server
