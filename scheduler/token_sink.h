// TokenSink: where the engine delivers one request's output. Implemented by the server's SSE
// stream (and by tools/generate for stdout).
//
// Thread: every call comes from the engine's step thread. Implementations must not block: they
// copy or merge the text and hand it to their own executor. The engine holds only a weak_ptr to a
// sink; when lock() fails the request is cancelled.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/ids.h"

namespace ladle::scheduler {

enum class FinishReason { kStop, kLength, kCancelled, kError };

// "stop", "length", "cancelled", "error".
const char* to_string(FinishReason reason);

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
};

struct Finish {
  FinishReason reason = FinishReason::kStop;
  Usage usage;
  std::string error_message{};  // set when reason == kError
  std::string stop_sequence{};  // kStop by a stop string: that string (empty: the model's EOS)
  bool context_full = false;  // kLength because the context was full, not max_tokens
};

// One generated token's log-probability and its most likely alternatives (only for requests that
// ask for them: SamplingParams::logprobs).
struct TopLogprob {
  TokenId token = 0;
  float logprob = 0;
};
struct TokenLogprob {
  TokenId token = 0;             // the sampled token
  float logprob = 0;             // its log-probability
  std::vector<TopLogprob> top;   // the SamplingParams::logprobs most likely tokens, most likely first
};

class TokenSink {
 public:
  virtual ~TokenSink() = default;

  // The request got its first slot in a step (it left the waiting queue): `cached_prompt_tokens`
  // of its prompt were served from the prefix cache. Called once, before any other call; not
  // again after a preemption.
  virtual void on_admitted(int cached_prompt_tokens) {}

  // One sampled token's log-probabilities, for a request that asked for them, in sampling order.
  // It comes before the on_delta whose num_tokens covers the token (whose text may come later, or
  // never: control tokens and text swallowed by a stop string have none).
  virtual void on_logprobs(const TokenLogprob& logprobs) {}

  // The prompt's log-probabilities, for a request that asked for them (prompt_logprobs): entry i
  // is prompt token i + 1 given the tokens before it (the first prompt token has none, so a
  // one-token prompt gets an empty span). Called once, before the first token's on_logprobs and
  // on_delta; the span is valid during the call only.
  virtual void on_prompt_logprobs(std::span<const TokenLogprob> logprobs) {}

  // New text of the request: whole UTF-8 characters only, with any text that might still become
  // a stop string held back. `num_tokens` is how many generated tokens this delta completes (text
  // of a token can be delayed, so a delta may cover several tokens, or a token may carry no text
  // yet and be reported with the next delta).
  virtual void on_delta(std::string_view text, int num_tokens) = 0;

  // The last call for this request. Any text still deliverable was sent by on_delta before it.
  virtual void on_finish(const Finish& finish) = 0;
};

}  // namespace ladle::scheduler
