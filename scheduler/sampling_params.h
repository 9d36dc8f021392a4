// SamplingParams: how one request wants its tokens chosen and when it wants to stop.
// A plain value type, built by the server from an API request and validated before submit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kvcache/expected.h"

namespace ladle::scheduler {

// The most alternatives a request may ask log-probabilities for (OpenAI's top_logprobs limit).
inline constexpr int kMaxLogprobs = 20;

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy (argmax, first maximum wins)
  float top_p = 1.0f;        // nucleus mass in (0, 1]
  int top_k = 0;             // 0 = off
  float min_p = 0.0f;        // in [0, 1]; drop tokens below min_p × max prob
  std::optional<std::uint64_t> seed;  // same seed ⇒ same tokens, whatever else is batched
  int max_tokens = 16;       // new tokens at most (further capped by the context length)
  std::vector<std::string> stop;      // stop strings: never streamed, end the request
  bool ignore_eos = false;   // keep going past BOS/EOS
  // -1: no log-probabilities. 0..kMaxLogprobs: the sink gets on_logprobs for every sampled token
  // with this many top alternatives. Raw log-probabilities: log_softmax of the model's logits
  // before temperature and top-k/top-p/min-p (vLLM's default), whatever the sampling settings.
  int logprobs = -1;
  // -1: none. 0..kMaxLogprobs: the sink gets on_prompt_logprobs once, before the first token: the
  // log-probability of every prompt token after the first (and this many alternatives), as the
  // same raw log_softmax. Every prompt token is then computed: the prefix cache is not read.
  int prompt_logprobs = -1;

  // An error naming the first out-of-range field (param name as in the OpenAI API), or Ok.
  Status validate() const;
};

}  // namespace ladle::scheduler
