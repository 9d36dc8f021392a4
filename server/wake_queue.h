// WakeQueue: one hand-off per batch from the engine thread to the I/O threads, instead of one
// asio post per stream per step.
//
// NOTE(server): a step of 32 streams used to post 32 handlers from the engine thread, each a
// malloc on the engine thread freed on the I/O thread, a lock of the io_context's queue that the
// I/O thread was contending for (futex sleeps and wake-ups on both sides: a quarter of the I/O
// thread's time on the tiny model) and, when the I/O thread slept, an epoll interrupt. Now the
// engine thread appends the woken mailbox to a vector under a short mutex and posts one drain
// when the vector was empty; the drain, on an I/O thread, wakes every mailbox on its own strand
// (a post from inside the io_context: thread-private queue, recycled memory).
//
// Ownership: Server owns it through a shared_ptr; mailboxes hold a weak_ptr (a mailbox the engine
// still holds after the server is gone finds no queue and drops its wake-up), and a posted drain
// holds a weak_ptr too (a drain left in a stopped io_context finds no queue).
// Threads: push() from any thread; the drain runs on the io_context.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

namespace ladle::server {

class Mailbox;

class WakeQueue : public std::enable_shared_from_this<WakeQueue> {
 public:
  // Use std::make_shared: push() hands weak_from_this() to the drain it posts.
  explicit WakeQueue(boost::asio::any_io_executor io);
  WakeQueue(const WakeQueue&) = delete;
  WakeQueue& operator=(const WakeQueue&) = delete;

  // Schedules mailbox->wake() on the mailbox's own executor, soon.
  void push(std::weak_ptr<Mailbox> mailbox);

 private:
  void drain();

  boost::asio::any_io_executor io_;
  std::mutex mu_;
  std::vector<std::weak_ptr<Mailbox>> ready_;  // GUARDED_BY(mu_)
  bool drain_posted_ = false;                  // GUARDED_BY(mu_)
};

}  // namespace ladle::server
