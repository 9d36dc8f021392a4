#include "bench/loadgen/workload.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string_view>

namespace ladle::loadgen {
namespace {

// Short, common words (TinyStories-like), each a single token in LLaMA's 32k vocabulary.
constexpr std::array<std::string_view, 64> kWords = {
    "the",  "a",     "little", "girl",  "boy",   "dog",   "cat",   "saw",   "big",   "red",
    "tree", "park",  "sun",    "happy", "sad",   "went",  "to",    "and",   "she",   "he",
    "was",  "very",  "ball",   "play",  "with",  "friend", "mom",  "day",   "one",   "time",
    "there", "lived", "in",    "house", "small", "bird",  "fly",   "sky",   "blue",  "green",
    "said", "look",  "at",     "run",   "fast",  "slow",  "jump",  "tall",  "box",   "toy",
    "car",  "food",  "eat",    "good",  "new",   "old",   "water", "cold",  "warm",  "night",
    "star", "moon",  "walk",   "home"};

}  // namespace

Workload::Workload(const WorkloadConfig& config) : config_(config), rng_(config.seed) {
  prefix_ = words(std::max(0, config_.shared_prefix_len));
}

int Workload::draw_length(int len) {
  if (config_.range_ratio <= 0) return std::max(1, len);
  int lo = std::max(1, static_cast<int>(std::floor(len * (1.0 - config_.range_ratio))));
  int hi = std::max(lo, static_cast<int>(std::ceil(len * (1.0 + config_.range_ratio))));
  return std::uniform_int_distribution<int>(lo, hi)(rng_);
}

std::string Workload::words(int count) {
  std::string out;
  std::uniform_int_distribution<std::size_t> pick(0, kWords.size() - 1);
  for (int i = 0; i < count; ++i) {
    if (i) out.push_back(' ');
    out.append(kWords[pick(rng_)]);
  }
  return out;
}

WorkItem Workload::next() {
  WorkItem item;
  int own = draw_length(config_.input_len);
  item.max_tokens = draw_length(config_.output_len);
  std::string tail = words(own);
  item.prompt = prefix_.empty() ? tail : prefix_ + " " + tail;
  item.input_words = own + std::max(0, config_.shared_prefix_len);
  return item;
}

}  // namespace ladle::loadgen
