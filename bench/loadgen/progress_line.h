// ProgressLine: a single self-overwriting status line on stderr while a run is going, shown
// only when stderr is a terminal (so logs and CI output stay clean).
//
// Owned by the bench command; called on the driver's thread only.
#pragma once

#include <chrono>
#include <string>

namespace ladle::loadgen {

class ProgressLine {
 public:
  explicit ProgressLine(std::string label, int total);

  // Redraws at most every 100 ms (and always on the last request).
  void update(int ok, int failed, int in_flight, double elapsed_s);
  // Clears the line before the report is printed.
  void finish();

 private:
  std::string label_;
  int total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace ladle::loadgen
