// StreamEncoder: one API dialect's view of a generation (OpenAI completions, OpenAI chat, Anthropic
// Messages, OpenAI Responses). It turns the generation's life (accepted, admitted, deltas, finish)
// into that API's events, and its whole output into that API's non-streamed body. It knows
// nothing of sockets or framing: events go to an EventOut, which a transport implements (SSE over
// HTTP, the replayable log of a background response, a WebSocket).
//
// The split (see generation.h for the request's life, sse_transport.h and event_log.h for the
// transports): adding a dialect is one new encoder; adding a transport is one new EventOut.
//
// Threads: an encoder belongs to one consumer and is called on its strand only.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/token_sink.h"
#include "server/api_error.h"
#include "server/http_reply.h"

namespace ladle::server {

// Where an encoder writes its events. `type` is the SSE event name (empty: a plain `data:`
// event); `id`, when >= 0, is the event's sequence number (SSE `id:` line).
class EventOut {
 public:
  virtual ~EventOut() = default;
  virtual void event(std::string_view type, std::string_view data, std::int64_t id = -1) = 0;
  // A keep-alive that carries no event (an SSE comment); transports without one ignore it.
  virtual void comment(std::string_view text) = 0;
};

// Everything a generation produced, for non-streamed replies and snapshots.
struct GenerationOutput {
  std::string text;
  std::vector<scheduler::TokenLogprob> logprobs{};  // when asked for
  std::vector<scheduler::TokenLogprob> prompt_logprobs{};  // echo with logprobs
  int cached_prompt_tokens = 0;
};

class StreamEncoder {
 public:
  virtual ~StreamEncoder() = default;

  // The engine accepted the request (right after submit; before any engine event).
  virtual void accepted(EventOut& out) {}
  // The request left the queue for its first step.
  virtual void admitted(int cached_prompt_tokens, EventOut& out) {}
  // The prompt's log-probabilities (completions' echo), before any text.
  virtual void prompt_logprobs(std::span<const scheduler::TokenLogprob> logprobs) {}
  // New text (whole UTF-8 characters) and the log-probabilities of the tokens that produced it
  // (empty unless asked for).
  virtual void delta(std::string_view text, std::span<const scheduler::TokenLogprob> logprobs,
                     EventOut& out) = 0;
  // The last event(s) of the stream, the stream's terminator included. Not called after
  // the stream failed (see fail()).
  virtual void finish(const scheduler::Finish& finish, EventOut& out) = 0;
  // The generation was cancelled or failed after the stream began: the dialect's error event.
  virtual void fail(const ApiError& error, EventOut& out) = 0;
  // Nothing happened for a ping interval: the dialect's keep-alive.
  virtual void ping(EventOut& out) { out.comment("ping"); }

  // The non-streamed reply: the whole output and the finish.
  virtual HttpReply reply(const GenerationOutput& output, const scheduler::Finish& finish) = 0;
  // An error reply in this dialect's shape.
  virtual HttpReply error(const ApiError& error) = 0;
};

// The error a cancelled or failed generation reports (503 cancelled, 500 engine error).
ApiError finish_error(const scheduler::Finish& finish);
// True when the finish is a cancellation or an engine error rather than an end of text.
bool finish_failed(const scheduler::Finish& finish);

}  // namespace ladle::server
