#include "bench/loadgen/progress_line.h"

#include <cstdio>
#include <unistd.h>

namespace ladle::loadgen {

ProgressLine::ProgressLine(std::string label, int total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(STDERR_FILENO) == 1) {}

void ProgressLine::update(int ok, int failed, int in_flight, double elapsed_s) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  bool last = ok + failed >= total_;
  if (!last && drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  std::fprintf(stderr, "\r\033[K[%s] %d/%d done, %d failed, %d in flight, %.1f s, %.1f req/s", label_.c_str(),
               ok + failed, total_, failed, in_flight, elapsed_s, elapsed_s > 0 ? (ok + failed) / elapsed_s : 0.0);
  std::fflush(stderr);
}

void ProgressLine::finish() {
  if (enabled_ && drawn_) std::fprintf(stderr, "\r\033[K");
}

}  // namespace ladle::loadgen
