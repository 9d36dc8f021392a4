// Workload: the deterministic stream of prompts and output lengths a benchmark sends.
//
// Owned by one driver; single-threaded. Prompt lengths are given in tokens and approximated by
// words of plain English (one common word is one token for LLaMA-style BPE vocabularies; small
// vocabularies split some words, so the server's usage.prompt_tokens is what the report uses).
// The same seed always yields the same prompts, so runs against different servers compare.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace ladle::loadgen {

struct WorkloadConfig {
  int input_len = 32;          // prompt words (≈ tokens), before the range ratio
  int output_len = 128;        // max_tokens, before the range ratio
  double range_ratio = 0.0;    // lengths uniform in [len·(1−r), len·(1+r)] (vLLM's meaning)
  int shared_prefix_len = 0;   // words every prompt starts with (the prefix-cache workload)
  std::uint64_t seed = 0;
};

struct WorkItem {
  std::string prompt;
  int input_words = 0;  // total, prefix included
  int max_tokens = 0;
};

class Workload {
 public:
  explicit Workload(const WorkloadConfig& config);

  // The next request: a prompt of shared prefix + input_len (±range) random words.
  WorkItem next();

  const std::string& shared_prefix() const { return prefix_; }

 private:
  int draw_length(int len);
  std::string words(int count);

  WorkloadConfig config_;
  std::mt19937_64 rng_;
  std::string prefix_;
};

}  // namespace ladle::loadgen
