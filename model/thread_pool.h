// ThreadPool: a tiny persistent pool that splits one loop across the calling thread and
// (threads - 1) workers, for the forward pass's matmuls and attention.
//
// Owned by one Transformer; run() may only be called from one thread at a time (the engine's
// step thread). Workers spin briefly after each job (a step issues dozens of short jobs back to
// back) and then sleep on an atomic wait, so an idle engine costs no CPU.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
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

  // Calls fn(part, num_parts) once for each part in [0, num_threads()) — part 0 on the calling
  // thread — and returns when all have finished. fn must not call run() itself.
  void run(const std::function<void(int, int)>& fn);

 private:
  void worker_loop(int part);

  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;  // valid while a run() is in flight
  std::atomic<std::uint32_t> generation_{0};  // bumped once per run(); workers wait on it
  std::atomic<int> pending_{0};               // workers still busy with the current job
  std::atomic<bool> stop_{false};
};

}  // namespace ladle::model
