#include "server/generation.h"

namespace ladle::server {

std::optional<ApiError> Generation::submit(scheduler::GenerationRequest request,
                                           boost::asio::any_io_executor executor, std::function<void()> wake,
                                           std::shared_ptr<WakeQueue> queue) {
  mailbox_ = std::make_shared<Mailbox>(std::move(executor), std::move(wake), queue);
  auto id = engine_.submit(std::move(request), mailbox_);
  if (!id) return api_error_from(id.error(), "prompt");
  id_ = *id;
  submitted_ = true;
  return std::nullopt;
}

void Generation::cancel() {
  if (submitted_ && !finish_) engine_.cancel(id_);
}

Generation::Update Generation::take() {
  mailbox_->take(batch_);
  Update u;
  u.admitted = batch_.admitted;
  u.text = batch_.text;
  released_.clear();
  if (!batch_.logprobs.empty() || !logprobs_.empty()) {
    logprobs_.insert(logprobs_.end(), std::make_move_iterator(batch_.logprobs.begin()),
                     std::make_move_iterator(batch_.logprobs.end()));
    if (!batch_.text.empty()) {
      released_.swap(logprobs_);
      u.logprobs = released_;
    }
  }
  if (batch_.finish) {
    finish_ = std::move(batch_.finish);
    logprobs_.clear();
    u.finish = &*finish_;
  }
  return u;
}

}  // namespace ladle::server
