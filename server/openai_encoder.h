// The OpenAI completions and chat completions replies: the streamed chunks, the non-streamed
// object, the error shape, and OpenAiEncoder, the StreamEncoder that emits them (chunks as plain
// `data:` events, then `data: [DONE]`).
//
// Log-probabilities, when asked for: completions carry the legacy object
// {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}; chat carries
// {content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}], refusal: null}.
// A streamed chunk carries the entries of the tokens sampled since the previous chunk.
//
// Thread-safety: the functions are pure; an encoder is used on one strand.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "server/delta_chunk_writer.h"
#include "server/openai_request.h"
#include "server/stream_encoder.h"

namespace ladle::server {

// The bytes a token stands for (Engine::token_bytes), for log-probability listings.
using TokenBytes = std::function<std::string(TokenId)>;

// Everything a response or chunk repeats.
struct ResponseContext {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string id;     // "cmpl-…" or "chatcmpl-…"
  std::string model;
  std::int64_t created = 0;  // unix seconds
  bool include_usage = false;
};

// {"error":{"message","type","param","code"}} as compact JSON.
std::string error_json(const ApiError& error);
// That body with its status; 429 also gets "Retry-After: 1".
HttpReply error_reply(const ApiError& error);

// "stop" or "length"; cancelled/error have no OpenAI finish_reason and map to nullopt.
std::optional<std::string_view> finish_reason_name(scheduler::FinishReason reason);

// A streamed chunk with new text. `first` puts role "assistant" into the chat delta.
std::string delta_chunk_json(const ResponseContext& ctx, std::string_view text, bool first);
// The chunk that carries finish_reason (empty text / empty delta).
std::string finish_chunk_json(const ResponseContext& ctx, scheduler::FinishReason reason);
// The stream_options.include_usage chunk: "choices": [] and "usage".
std::string usage_chunk_json(const ResponseContext& ctx, const scheduler::Usage& usage);
// The whole non-streamed response, with usage.
std::string full_response_json(const ResponseContext& ctx, std::string_view text,
                               const scheduler::Finish& finish);

class OpenAiEncoder final : public StreamEncoder {
 public:
  // What completions' `echo` puts before the answer: the prompt's text and its token ids (whose
  // first, unless it is BOS, has no log-probability).
  struct Echo {
    std::string text;
    std::vector<TokenId> tokens;
    std::optional<TokenId> bos;  // the model's BOS (ModelInfo::bos): not listed when it comes first
  };

  // `token_bytes` is needed only when the request asked for log-probabilities.
  OpenAiEncoder(ResponseContext ctx, bool logprobs, TokenBytes token_bytes, std::optional<Echo> echo = std::nullopt);

  void prompt_logprobs(std::span<const scheduler::TokenLogprob> logprobs) override;

  void delta(std::string_view text, std::span<const scheduler::TokenLogprob> logprobs, EventOut& out) override;
  void finish(const scheduler::Finish& finish, EventOut& out) override;
  void fail(const ApiError& error, EventOut& out) override;
  HttpReply reply(const GenerationOutput& output, const scheduler::Finish& finish) override;
  HttpReply error(const ApiError& error) override { return error_reply(error); }

 private:
  // The logprobs object of one chunk (or of the whole reply) for `tokens`; advances offset_.
  nlohmann::json logprobs_json(std::span<const scheduler::TokenLogprob> tokens);
  // Appends one token to a legacy (completions) logprobs object; `lp` null: no log-probability.
  void append_legacy(nlohmann::json& obj, TokenId token, const scheduler::TokenLogprob* lp);
  // The legacy logprobs object of the echoed prompt (its first token without a log-probability
  // unless the prompt starts with BOS, which is not listed).
  nlohmann::json prompt_logprobs_json(std::span<const scheduler::TokenLogprob> tokens);
  // The echoed prompt's chunk, before the first text (streamed).
  void send_echo(EventOut& out);

  ResponseContext ctx_;
  const bool logprobs_;
  TokenBytes token_bytes_;
  DeltaChunkWriter chunks_;
  std::string data_;   // scratch for one event's JSON, reused
  bool first_ = true;  // no delta sent yet (chat: the first carries the role)
  std::size_t offset_ = 0;  // completions' text_offset of the next token
  std::optional<Echo> echo_;
  std::vector<scheduler::TokenLogprob> prompt_logprobs_;  // echo with logprobs
  bool echo_sent_ = false;
};

}  // namespace ladle::server
