// RequestState: what the engine thread keeps for one live request besides the scheduler's
// Sequence — its sink, its sampler (and so its RNG), its text stream and its timings.
// Owned by LlmEngine's step thread; never touched by any other thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "model/sampler.h"
#include "scheduler/engine.h"
#include "scheduler/text_stream.h"
#include "scheduler/token_sink.h"

namespace ladle::scheduler {

using Clock = std::chrono::steady_clock;

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct RequestState {
  RequestState(RequestId id_, const model::AnyTokenizer& tok, const GenerationRequest& req,
               std::weak_ptr<TokenSink> sink_, std::uint64_t seed, Clock::time_point arrival_)
      : id(id_),
        sink(std::move(sink_)),
        sampler(model::SamplerConfig{req.params.temperature, req.params.top_k, req.params.top_p,
                                     req.params.min_p},
                seed),
        text(tok, req.prompt_tokens.back(), req.params.stop),
        prompt_tokens(int(req.prompt_tokens.size())),
        max_tokens(req.params.max_tokens),
        num_logprobs(req.params.logprobs),
        num_prompt_logprobs(req.params.prompt_logprobs),
        prompt_logprobs(req.params.prompt_logprobs >= 0 ? req.prompt_tokens.size() - 1 : 0),
        request_class(req.request_class),
        arrival(arrival_) {}

  RequestId id;
  std::weak_ptr<TokenSink> sink;
  model::Sampler sampler;
  TextStream text;
  int prompt_tokens;
  int max_tokens;              // as asked; the context may end the request sooner
  int num_logprobs;            // SamplingParams::logprobs: -1 off, else top alternatives per token
  // The latest sampled token's log-probabilities (num_logprobs >= 0 only), written by the sampling
  // thread of its row and delivered by emit_token; its `top` buffer is reused token after token.
  TokenLogprob logprobs;
  int num_prompt_logprobs;     // SamplingParams::prompt_logprobs: -1 off
  // Prompt tokens 1.. whose log-probabilities are known (num_prompt_logprobs >= 0 only), filled
  // chunk by chunk (each entry by one sampling thread) and delivered with the first token.
  std::vector<TokenLogprob> prompt_logprobs;
  bool prompt_logprobs_sent = false;
  int cached_prompt_tokens = 0;
  int generated = 0;           // tokens sampled so far (EOS included)
  int unreported_tokens = 0;   // generated tokens not yet covered by an on_delta
  bool finished = false;       // on_finish delivered (or the sink is gone)

  RequestClass request_class;  // batch tokens stay out of the latency observers
  Clock::time_point arrival;
  std::optional<Clock::time_point> scheduled;    // first time it got a slot in a step
  std::optional<Clock::time_point> first_token;
  Clock::time_point last_token;
};

}  // namespace ladle::scheduler
