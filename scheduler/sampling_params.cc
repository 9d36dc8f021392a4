#include "scheduler/sampling_params.h"

#include <cmath>

namespace ladle::scheduler {

Status SamplingParams::validate() const {
  auto bad = [](std::string m) { return make_error(ErrorCode::kInvalidArgument, std::move(m)); };
  if (!std::isfinite(temperature) || temperature < 0) return bad("temperature must be >= 0");
  if (!std::isfinite(top_p) || top_p <= 0 || top_p > 1) return bad("top_p must be in (0, 1]");
  if (top_k < 0) return bad("top_k must be >= 0");
  if (!std::isfinite(min_p) || min_p < 0 || min_p > 1) return bad("min_p must be in [0, 1]");
  if (max_tokens < 1) return bad("max_tokens must be >= 1");
  if (logprobs < -1 || logprobs > kMaxLogprobs) return bad("top_logprobs must be in [0, 20]");
  if (prompt_logprobs < -1 || prompt_logprobs > kMaxLogprobs) return bad("prompt_logprobs must be in [0, 20]");
  if (stop.size() > 4) return bad("stop may hold at most 4 strings");
  for (const auto& s : stop)
    if (s.empty()) return bad("stop strings must not be empty");
  return Ok{};
}

}  // namespace ladle::scheduler
