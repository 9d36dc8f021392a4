// ThreadPool: every task of every loop runs exactly once, also across many back-to-back loops
// where workers arrive late (the race that once ran a task twice and hung the caller).
#include "model/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace ladle::model {
namespace {

TEST(ThreadPool, EveryTaskRunsExactlyOnceAcrossManyLoops) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(64);
  for (int loop = 0; loop < 50000; ++loop) {
    const int n = 2 + loop % 63;
    for (int i = 0; i < n; ++i) hits[i].store(0, std::memory_order_relaxed);
    pool.parallel_for(n, [&](int task, int thread) {
      ASSERT_LT(thread, pool.num_threads());
      hits[task].fetch_add(1, std::memory_order_relaxed);
    });
    for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "loop " << loop << " task " << i;
  }
}

TEST(ThreadPool, SleepingWorkersWakeUpAndShutDown) {
  for (int round = 0; round < 20; ++round) {
    ThreadPool pool(3);
    std::atomic<int> sum{0};
    pool.parallel_for(10, [&](int task, int) { sum += task; });
    EXPECT_EQ(sum.load(), 45);
  }  // destructors must not hang, whether workers spin or sleep
}

}  // namespace
}  // namespace ladle::model
