#include "model/thread_pool.h"

#include <pthread.h>

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LADLE_CPU_RELAX() _mm_pause()
#else
#define LADLE_CPU_RELAX() ((void)0)
#endif

namespace ladle::model {

namespace {
// Spin iterations before a worker falls back to sleeping (a few hundred microseconds): long
// enough to bridge the gaps between the loops of one forward step, short enough not to burn an
// idle core.
constexpr int kSpinIterations = 8000;
// NOTE(pool): a spinning worker offers its core every few microseconds (sched_yield returns at
// once when nothing else is runnable there). Under `ladle serve` the HTTP I/O thread — and, in
// the benchmarks, the client — share these cores: without the yields they waited for the
// scheduler to preempt a worker that was only spinning.
constexpr int kYieldEvery = 256;
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i)
    workers_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), "ladle-compute");  // for top -H, perf and taskset
      worker_loop(i);
    });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  bump_generation(generation_.load() + 1);
  for (auto& t : workers_) t.join();
}

int ThreadPool::drain(std::uint32_t gen, int thread) {
  int ran = 0;
  std::uint64_t v = next_.load(std::memory_order_acquire);
  for (;;) {
    if (std::uint32_t(v >> 32) != gen ||
        std::uint32_t(v) >= std::uint32_t(num_tasks_.load(std::memory_order_relaxed)))
      return ran;
    if (!next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
    // The claim succeeded for this generation, so its loop is still running and job_ is its job.
    (*job_)(int(std::uint32_t(v)), thread);
    finished_.fetch_add(1, std::memory_order_acq_rel);
    ++ran;
    v = next_.load(std::memory_order_acquire);
  }
}

void ThreadPool::parallel_for(int num_tasks, const Task& fn) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (int t = 0; t < num_tasks; ++t) fn(t, 0);
    return;
  }
  const std::uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  // NOTE(pool): close the previous generation before touching the job. A worker still holding a
  // stale next_ value from the last loop must fail its claim: were next_ still the old value when
  // the new num_tasks_ became visible, its CAS could succeed, run a task of the new job and count
  // it twice (finished_ would overshoot and this loop would never end). The new generation starts
  // closed (index UINT32_MAX claims nothing) and opens only once job_ and num_tasks_ are set.
  next_.store((std::uint64_t(gen) << 32) | 0xFFFFFFFFu, std::memory_order_seq_cst);
  job_ = &fn;
  num_tasks_.store(num_tasks, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  next_.store(std::uint64_t(gen) << 32, std::memory_order_release);
  bump_generation(gen);
  drain(gen, 0);
  // Wait only for tasks a worker has already claimed; yield if it lost its core.
  for (int i = 0; finished_.load(std::memory_order_acquire) < num_tasks; ++i) {
    if (i < kSpinIterations) LADLE_CPU_RELAX();
    else std::this_thread::yield();
  }
}

void ThreadPool::bump_generation(std::uint32_t gen) {
  generation_.store(gen, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard lock(sleep_mu_);  // a sleeper between its check and its wait holds the lock
    sleep_cv_.notify_all();
  }
}

void ThreadPool::worker_loop(int thread) {
  // Generation 0 is the constructor's; anything newer (even bumped before this thread got to run,
  // e.g. by the destructor) is noticed below, so shutdown can never be missed.
  std::uint32_t seen = 0;
  for (;;) {
    std::uint32_t g = generation_.load(std::memory_order_acquire);
    for (int i = 1; g == seen && i <= kSpinIterations; ++i) {
      LADLE_CPU_RELAX();
      if (i % kYieldEvery == 0) std::this_thread::yield();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock lock(sleep_mu_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      sleep_cv_.wait(lock, [&] { return generation_.load(std::memory_order_seq_cst) != seen; });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      continue;
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    drain(g, thread);
  }
}

}  // namespace ladle::model
