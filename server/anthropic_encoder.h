// The Anthropic Messages replies: the Message object, the error shape, and AnthropicEncoder, the
// StreamEncoder of the event stream. Every frame has its `event:` line (the SDK drops frames
// without one):
//   message_start (usage.input_tokens, cache_read_input_tokens from the prefix cache) — when the
//   request is admitted, before its first token; `ping` events until then and while idle;
//   content_block_start (text) → content_block_delta (text_delta)* → content_block_stop →
//   message_delta (stop_reason, stop_sequence, cumulative usage.output_tokens) → message_stop.
// stop_reason: end_turn (EOS), max_tokens, stop_sequence (with the matched string),
// model_context_window_exceeded (the context filled before max_tokens). A failure after the
// headers is `event: error` with an Anthropic error object.
//
// Usage follows Anthropic's accounting: input_tokens counts the prompt tokens not read from the
// cache; cache_read_input_tokens those that were.
//
// Thread-safety: the functions are pure; an encoder is used on one strand.
#pragma once

#include <cstdint>
#include <string>

#include "server/stream_encoder.h"

namespace ladle::server {

// {"type":"error","error":{"type","message"},"request_id"}: Anthropic's error types by status
// (400 invalid_request_error, 401 authentication_error, 403 permission_error, 404
// not_found_error, 413 request_too_large, 429 rate_limit_error, 500 api_error, 503/529
// overloaded_error).
std::string anthropic_error_json(const ApiError& error, std::string_view request_id);
// That body with its status (429 with retry-after).
HttpReply anthropic_error_reply(const ApiError& error, std::string_view request_id);

class AnthropicEncoder final : public StreamEncoder {
 public:
  // `id`: "msg_…"; `prompt_tokens`: the tokenized conversation's length.
  AnthropicEncoder(std::string id, std::string model, int prompt_tokens, std::string request_id);

  void admitted(int cached_prompt_tokens, EventOut& out) override;
  void delta(std::string_view text, std::span<const scheduler::TokenLogprob> logprobs, EventOut& out) override;
  void finish(const scheduler::Finish& finish, EventOut& out) override;
  void fail(const ApiError& error, EventOut& out) override;
  void ping(EventOut& out) override;
  HttpReply reply(const GenerationOutput& output, const scheduler::Finish& finish) override;
  HttpReply error(const ApiError& error) override { return anthropic_error_reply(error, request_id_); }

 private:
  void start(int cached_prompt_tokens, EventOut& out);

  const std::string id_, model_;
  const int prompt_tokens_;
  const std::string request_id_;
  std::string data_;  // scratch for one event's JSON
  bool started_ = false;
};

}  // namespace ladle::server
