#include "model/thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LADLE_CPU_RELAX() _mm_pause()
#else
#define LADLE_CPU_RELAX() ((void)0)
#endif

namespace ladle::model {

namespace {
// Spin iterations before a worker falls back to sleeping (~tens of microseconds): long enough to
// bridge the gap between the jobs of one forward step, short enough not to burn an idle core.
constexpr int kSpinIterations = 20000;
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int part = 1; part < threads; ++part) workers_.emplace_back([this, part] { worker_loop(part); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  const int parts = num_threads();
  if (parts == 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  pending_.store(parts - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  fn(0, parts);
  // Spin while the workers finish; if one of them lost its core (the machine is oversubscribed),
  // yield so it can get it back instead of burning our slice.
  for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
    if (i < kSpinIterations) LADLE_CPU_RELAX();
    else std::this_thread::yield();
  }
  job_ = nullptr;
}

void ThreadPool::worker_loop(int part) {
  std::uint32_t seen = 0;
  for (;;) {
    std::uint32_t g = generation_.load(std::memory_order_acquire);
    for (int i = 0; g == seen && i < kSpinIterations; ++i) {
      LADLE_CPU_RELAX();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      continue;
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    (*job_)(part, num_threads());
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace ladle::model
