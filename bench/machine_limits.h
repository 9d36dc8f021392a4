// Machine limits measured in the same run as a benchmark, so that results are reported as ratios
// that survive a noisy shared machine: OpenBLAS sgemm peak and large-buffer read bandwidth.
//
// Header-only free functions for bench programs; call them from the main thread while nothing
// else of the program is running.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace ladle::bench {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Best GFLOP/s of OpenBLAS sgemm for row-major C[M×N] = A[M×K]·B[N×K]ᵀ (default: M=128, N=2048,
// K=768, the stories110M FFN shape at a large batch), over `rounds` timed rounds of `reps` calls,
// with OpenBLAS on `threads` threads (restored to 1 afterwards so its spinning workers leave the
// cores to the code under test).
inline double measure_sgemm_peak(int threads = 2, int M = 128, int N = 2048, int K = 768, int reps = 30,
                                 int rounds = 5) {
  std::vector<float> a(std::size_t(M) * K, 0.5f), b(std::size_t(N) * K, 0.25f), c(std::size_t(M) * N);
  openblas_set_num_threads(threads);
  auto call = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a.data(), K, b.data(), K, 0.0f, c.data(), N);
  };
  call();
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) call();
    best = std::max(best, 2.0 * M * N * K * reps / seconds_since(t0) / 1e9);
  }
  openblas_set_num_threads(1);
  return best;
}

// Best GB/s of summing a `bytes` buffer (default 512 MiB, far beyond the L3) split across
// `threads` threads, over `rounds` passes.
inline double measure_read_bandwidth(int threads = 2, std::size_t bytes = std::size_t(512) << 20, int rounds = 5) {
  const std::size_t n = bytes / sizeof(std::uint64_t);
  std::unique_ptr<std::uint64_t[]> buf(new std::uint64_t[n]);
  for (std::size_t i = 0; i < n; ++i) buf[i] = i;  // touch every page
  std::vector<std::uint64_t> sums(std::size_t(threads) * 8);
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        const std::size_t begin = n / threads * t, end = t + 1 == threads ? n : n / threads * (t + 1);
        std::uint64_t s = 0;  // integer sum: the compiler vectorises it without reassociation worries
        for (std::size_t i = begin; i < end; ++i) s += buf[i];
        sums[std::size_t(t) * 8] = s;
      });
    for (auto& th : pool) th.join();
    best = std::max(best, double(bytes) / seconds_since(t0) / 1e9);
  }
  volatile std::uint64_t sink = sums[0];  // keep the sums observable
  (void)sink;
  return best;
}

}  // namespace ladle::bench
