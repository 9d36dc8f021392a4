// Mailbox and WakeQueue: output merges between takes, one wake-up per batch, and the explicit
// ownership of the queue (a mailbox outliving its server's queue drops its wake-ups instead of
// touching freed memory; AddressSanitizer checks the last case).
#include "server/mailbox.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include <memory>

#include "server/wake_queue.h"

namespace ladle::server {
namespace {

TEST(Mailbox, MergesDeltasAndWakesOncePerTake) {
  boost::asio::io_context ioc;
  int wakes = 0;
  auto box = std::make_shared<Mailbox>(ioc.get_executor(), [&] { ++wakes; });
  box->on_delta("Once", 1);
  box->on_delta(" upon", 2);
  ioc.run();
  EXPECT_EQ(wakes, 1);
  Mailbox::Batch b;
  box->take(b);
  EXPECT_EQ(b.text, "Once upon");
  EXPECT_EQ(b.num_tokens, 3);
  EXPECT_FALSE(b.finish);
  box->on_finish(scheduler::Finish{scheduler::FinishReason::kLength, {}, ""});
  ioc.restart();
  ioc.run();
  EXPECT_EQ(wakes, 2);
  box->take(b);
  EXPECT_TRUE(b.text.empty());
  ASSERT_TRUE(b.finish);
  EXPECT_EQ(b.finish->reason, scheduler::FinishReason::kLength);
}

TEST(Mailbox, WakesThroughTheQueue) {
  boost::asio::io_context ioc;
  auto queue = std::make_shared<WakeQueue>(ioc.get_executor());
  int wakes = 0;
  auto a = std::make_shared<Mailbox>(ioc.get_executor(), [&] { ++wakes; }, queue);
  auto b = std::make_shared<Mailbox>(ioc.get_executor(), [&] { ++wakes; }, queue);
  a->on_delta("x", 1);
  b->on_delta("y", 1);
  ioc.run();
  EXPECT_EQ(wakes, 2);
}

// The engine may still hold a request's mailbox after the server (and its queue and io_context)
// are gone; its last calls then find no queue and do nothing.
TEST(Mailbox, OutlivingItsQueueDropsTheWakeUp) {
  int wakes = 0;
  std::shared_ptr<Mailbox> box;
  {
    boost::asio::io_context ioc;
    auto queue = std::make_shared<WakeQueue>(ioc.get_executor());
    box = std::make_shared<Mailbox>(ioc.get_executor(), [&] { ++wakes; }, queue);
  }
  box->on_delta("late", 1);
  box->on_finish(scheduler::Finish{scheduler::FinishReason::kCancelled, {}, ""});
  EXPECT_EQ(wakes, 0);
  Mailbox::Batch b;
  box->take(b);
  EXPECT_EQ(b.text, "late");
}

// A drain posted by the queue and left in the io_context after the queue is gone does nothing.
TEST(WakeQueue, ADrainLeftBehindFindsNoQueue) {
  boost::asio::io_context ioc;
  int wakes = 0;
  auto box = std::make_shared<Mailbox>(ioc.get_executor(), [&] { ++wakes; });
  {
    auto queue = std::make_shared<WakeQueue>(ioc.get_executor());
    queue->push(box);
  }
  ioc.run();
  EXPECT_EQ(wakes, 0);
}

}  // namespace
}  // namespace ladle::server
