#include "server/mailbox.h"

#include <utility>

#include <boost/asio/post.hpp>

#include "server/wake_queue.h"

namespace ladle::server {

Mailbox::Mailbox(boost::asio::any_io_executor executor, std::function<void()> wake,
                 std::shared_ptr<WakeQueue> queue)
    : executor_(std::move(executor)), wake_(std::move(wake)), queue_(queue), queued_(queue != nullptr) {}

void Mailbox::on_admitted(int cached_prompt_tokens) {
  std::lock_guard lock(mu_);
  pending_.admitted = cached_prompt_tokens;
  schedule_wake_locked();
}

// No wake-up of its own: the text of the token follows in an on_delta (or the finish).
void Mailbox::on_logprobs(const scheduler::TokenLogprob& logprobs) {
  std::lock_guard lock(mu_);
  pending_.logprobs.push_back(logprobs);
}

void Mailbox::on_delta(std::string_view text, int num_tokens) {
  std::lock_guard lock(mu_);
  pending_.text += text;
  pending_.num_tokens += num_tokens;
  schedule_wake_locked();
}

void Mailbox::on_finish(const scheduler::Finish& finish) {
  std::lock_guard lock(mu_);
  pending_.finish = finish;
  schedule_wake_locked();
}

void Mailbox::take(Batch& into) {
  std::lock_guard lock(mu_);
  wake_posted_ = false;
  into.text.swap(pending_.text);
  pending_.text.clear();
  into.num_tokens = std::exchange(pending_.num_tokens, 0);
  into.admitted = std::exchange(pending_.admitted, std::nullopt);
  into.logprobs.swap(pending_.logprobs);
  pending_.logprobs.clear();
  into.finish = std::exchange(pending_.finish, std::nullopt);
}

std::size_t Mailbox::pending_bytes() const {
  std::lock_guard lock(mu_);
  return pending_.text.size();
}

void Mailbox::schedule_wake_locked() {
  if (wake_posted_) return;
  wake_posted_ = true;
  if (!queued_) return wake_on_its_executor();
  if (auto queue = queue_.lock()) queue->push(weak_from_this());
}

void Mailbox::wake_on_its_executor() { boost::asio::post(executor_, wake_); }

}  // namespace ladle::server
