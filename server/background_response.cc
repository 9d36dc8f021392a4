#include "server/background_response.h"

#include <boost/asio/post.hpp>

#include "server/metrics.h"
#include "server/server_state.h"

namespace ladle::server {

BackgroundResponse::BackgroundResponse(ServerState& state, scheduler::Engine& engine,
                                       boost::asio::any_io_executor strand, std::unique_ptr<ResponsesEncoder> encoder)
    : state_(state), strand_(std::move(strand)), id_(encoder->id()), generation_(engine), encoder_(std::move(encoder)) {}

std::optional<ApiError> BackgroundResponse::start(scheduler::GenerationRequest request) {
  std::weak_ptr<BackgroundResponse> weak = weak_from_this();
  auto wake = [weak] {
    if (auto self = weak.lock()) self->pump();
  };
  // NOTE(server): self_ keeps `weak` alive until the finish, also for a response deleted (and so
  // cancelled) while running.
  self_ = shared_from_this();
  state_.generation_started();  // before the engine has it, as HttpStream::start
  if (auto error = generation_.submit(std::move(request), strand_, wake, state_.wake_queue())) {
    state_.generation_ended();
    self_.reset();
    return error;
  }
  if (state_.metrics()) state_.metrics()->on_background_started();
  std::lock_guard lock(mu_);
  encoder_->accepted(log_);
  return std::nullopt;
}

void BackgroundResponse::cancel() {
  {
    std::lock_guard lock(mu_);
    if (finished_at_ || cancel_asked_) return;
    cancel_asked_ = true;
    encoder_->set_cancel_requested();
  }
  boost::asio::post(strand_, [self = shared_from_this()] { self->generation_.cancel(); });
}

void BackgroundResponse::pump() {
  const Generation::Update u = generation_.take();
  std::shared_ptr<BackgroundResponse> keep;  // released at the end of this call
  if (u.finish) keep = std::move(self_);
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard lock(mu_);
    if (u.admitted) encoder_->admitted(*u.admitted, log_);
    if (!u.text.empty()) encoder_->delta(u.text, u.logprobs, log_);
    if (u.finish) {
      if (finish_failed(*u.finish)) encoder_->fail(finish_error(*u.finish), log_);
      else encoder_->finish(*u.finish, log_);
      finished_at_ = Clock::now();
    }
    wake.swap(waiting_);
  }
  if (u.finish) {
    state_.generation_ended();
    if (state_.metrics()) state_.metrics()->on_background_finished();
  }
  for (auto& w : wake) w();
}

nlohmann::json BackgroundResponse::snapshot() const {
  std::lock_guard lock(mu_);
  nlohmann::json s = encoder_->snapshot();
  if (cancel_asked_ && !finished_at_) s["status"] = "cancelled";  // asked; the engine drops it within a step
  return s;
}

bool BackgroundResponse::finished() const {
  std::lock_guard lock(mu_);
  return finished_at_.has_value();
}

std::optional<BackgroundResponse::Clock::time_point> BackgroundResponse::finished_at() const {
  std::lock_guard lock(mu_);
  return finished_at_;
}

std::size_t BackgroundResponse::log_bytes() const {
  std::lock_guard lock(mu_);
  return log_.bytes();
}

BackgroundResponse::Read BackgroundResponse::read_after(std::int64_t after, std::string& out, std::size_t max_bytes,
                                                        std::function<void()> wake) {
  std::lock_guard lock(mu_);
  Read r;
  r.last = log_.read_after(after, out, max_bytes);
  const bool caught_up = r.last + 1 >= log_.size();
  r.complete = finished_at_.has_value() && caught_up;
  if (caught_up && !finished_at_) waiting_.push_back(std::move(wake));
  return r;
}

}  // namespace ladle::server
