#include "server/wake_queue.h"

#include <boost/asio/post.hpp>

#include "server/mailbox.h"

namespace ladle::server {

WakeQueue::WakeQueue(boost::asio::any_io_executor io) : io_(std::move(io)) {}

void WakeQueue::push(std::weak_ptr<Mailbox> mailbox) {
  std::lock_guard lock(mu_);
  ready_.push_back(std::move(mailbox));
  if (drain_posted_) return;
  drain_posted_ = true;
  boost::asio::post(io_, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->drain();
  });
}

// Takes the whole batch, then wakes each mailbox. A push after the swap posts the next drain,
// which with several I/O threads may run concurrently on its own batch (hence a local vector).
void WakeQueue::drain() {
  std::vector<std::weak_ptr<Mailbox>> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(ready_);
    drain_posted_ = false;
  }
  for (auto& weak : batch)
    if (auto mailbox = weak.lock()) mailbox->wake_on_its_executor();
}

}  // namespace ladle::server
