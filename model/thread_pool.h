// ThreadPool: a tiny persistent pool that runs one loop of independent tasks on the calling
// thread plus (threads - 1) workers, for the forward pass's matmuls and attention.
//
// Owned by one Transformer; parallel_for() may only be called from one thread at a time (the
// engine's step thread). Tasks are claimed dynamically from a shared counter, and the caller
// works too: if a worker is descheduled (the machine is shared), the caller simply claims the
// remaining tasks instead of waiting for it. Workers spin briefly after each loop (a step issues
// dozens of short loops back to back), offering their core to other runnable threads every few
// microseconds while they do (the server's I/O thread shares these cores), then sleep on a
// condition variable, so an idle engine costs no CPU.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ladle::model {

class ThreadPool {
 public:
  // `threads` <= 0 means one per hardware core. threads == 1 runs everything inline.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return int(workers_.size()) + 1; }

  // Calls fn(task, thread) exactly once for every task in [0, num_tasks), on any of the pool's
  // threads (thread in [0, num_threads()), 0 = the caller, so per-thread scratch can be indexed),
  // and returns when all calls have finished. fn must not call parallel_for() itself.
  using Task = std::function<void(int task, int thread)>;
  void parallel_for(int num_tasks, const Task& fn);

 private:
  void worker_loop(int thread);
  // Claims and runs tasks of generation `gen` until none is left; returns how many it ran.
  int drain(std::uint32_t gen, int thread);
  // Publishes a new generation and wakes sleeping workers.
  void bump_generation(std::uint32_t gen);

  std::vector<std::thread> workers_;
  // (generation << 32) | next unclaimed task. A claim is a CAS that also checks the generation,
  // so a late worker can never run a task of a loop that has already finished.
  std::atomic<std::uint64_t> next_{0};
  std::atomic<std::uint32_t> generation_{0};  // bumped to start a loop (or to stop)
  // NOTE(pool): sleeping uses a mutex + condition variable, not std::atomic::wait: libstdc++ 12's
  // atomic wait could miss a notify_all under load (a worker slept through the destructor's bump).
  // A notifier locks only when a worker is asleep (sleepers_ > 0, Dekker-style seq_cst handshake).
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  std::atomic<int> sleepers_{0};
  std::atomic<int> finished_{0};              // tasks of the current loop completed
  const Task* job_ = nullptr;
  std::atomic<int> num_tasks_{0};  // read by late workers while the next loop is being set up
  std::atomic<bool> stop_{false};
};

}  // namespace ladle::model
