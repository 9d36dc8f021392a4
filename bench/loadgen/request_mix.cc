#include "bench/loadgen/request_mix.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace ladle::loadgen {
namespace {

// Stop strings a story model meets often (and one it rarely does), so that some requests end
// on a stop string mid-stream and the held-back text path runs.
constexpr std::array<std::string_view, 5> kStops = {"\n", ".", " the", " and", "Once"};

}  // namespace

RequestMix::RequestMix(const MixConfig& config) : config_(config), rng_(config.seed ^ 0x9e3779b97f4a7c15ull) {}

RequestShape RequestMix::next(int max_tokens) {
  RequestShape shape;
  shape.endpoint = config_.endpoint;
  auto chance = [this](double p) { return std::bernoulli_distribution(p)(rng_); };
  if (config_.mixed) {
    shape.endpoint = chance(0.5) ? ApiEndpoint::kChat : ApiEndpoint::kCompletions;
    shape.stream = chance(0.7);
    int stops = std::uniform_int_distribution<int>(0, 2)(rng_);
    for (int i = 0; i < stops; ++i)
      shape.stop.emplace_back(kStops[std::uniform_int_distribution<std::size_t>(0, kStops.size() - 1)(rng_)]);
    std::sort(shape.stop.begin(), shape.stop.end());
    shape.stop.erase(std::unique(shape.stop.begin(), shape.stop.end()), shape.stop.end());
  }
  if (config_.drop_rate <= 0 || !chance(std::min(1.0, config_.drop_rate))) return shape;
  auto micros = [this](long lo, long hi) {
    return std::chrono::microseconds(std::uniform_int_distribution<long>(lo, hi)(rng_));
  };
  switch (std::uniform_int_distribution<int>(0, 2)(rng_)) {
    case 0: shape.drop_after = micros(0, 20'000); break;
    case 1: shape.drop_after = micros(20'000, 2'000'000); break;
    default:
      if (shape.stream && max_tokens > 1)
        shape.drop_after_events = std::uniform_int_distribution<int>(1, max_tokens - 1)(rng_);
      else
        shape.drop_after = micros(20'000, 2'000'000);
  }
  return shape;
}

}  // namespace ladle::loadgen
