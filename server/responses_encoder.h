// The OpenAI Responses API's events and Response object, and ResponsesEncoder, the StreamEncoder
// that emits them. Every event carries an integer sequence_number (0, 1, 2, ...), also sent as the
// SSE `id:` line so that a browser's EventSource resumes by itself (Last-Event-ID):
//   accepted → response.created (status queued for background, else in_progress)
//   admitted → response.in_progress, response.output_item.added, response.content_part.added
//   deltas   → response.output_text.delta (with logprobs, [] unless asked for)
//   finish   → response.output_text.done, response.content_part.done, response.output_item.done,
//              then response.completed, or response.incomplete (incomplete_details.reason
//              max_output_tokens)
//   failure  → response.failed (error), or for a cancelled background response
//              response.cancelled (status cancelled: OpenAI's API has the status but no stream
//              event for it; its webhook has this name)
// The encoder also keeps the Response as it stands (snapshot()), for non-streamed replies and for
// GET /v1/responses/{id} on a background response.
//
// Thread-safety: one strand (a background response guards it with its own mutex).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/openai_encoder.h"
#include "server/responses_request.h"
#include "server/stream_encoder.h"

namespace ladle::server {

class ResponsesEncoder final : public StreamEncoder {
 public:
  // `id`: "resp_…". `request` supplies the echoed settings; `model` the served model's id.
  ResponsesEncoder(std::string id, const ResponsesRequest& request, std::string model, std::int64_t created_at,
                   TokenBytes token_bytes);

  void accepted(EventOut& out) override;
  void admitted(int cached_prompt_tokens, EventOut& out) override;
  void delta(std::string_view text, std::span<const scheduler::TokenLogprob> logprobs, EventOut& out) override;
  void finish(const scheduler::Finish& finish, EventOut& out) override;
  void fail(const ApiError& error, EventOut& out) override;
  HttpReply reply(const GenerationOutput& output, const scheduler::Finish& finish) override;
  HttpReply error(const ApiError& error) override { return error_reply(error); }

  // The Response as it stands.
  nlohmann::json snapshot() const;
  const std::string& id() const { return id_; }
  const std::string& status() const { return status_; }
  // Marks a cancel asked for by the client: the finish that follows is "cancelled".
  void set_cancel_requested() { cancel_requested_ = true; }
  // The sequence number the next event gets.
  std::int64_t next_sequence_number() const { return seq_; }

 private:
  void emit(std::string_view type, nlohmann::json event, EventOut& out);
  nlohmann::json message_item(const char* status) const;
  nlohmann::json text_part() const;
  nlohmann::json logprob_entries(std::span<const scheduler::TokenLogprob> tokens) const;
  void end_output(EventOut& out);

  const std::string id_, item_id_, model_;
  const std::int64_t created_at_;
  const nlohmann::json settings_;  // the request's echoed fields
  const bool background_, logprobs_;
  TokenBytes token_bytes_;
  std::string status_;
  std::string text_;
  nlohmann::json logprobs_json_ = nlohmann::json::array();
  nlohmann::json usage_ = nullptr, error_ = nullptr, incomplete_ = nullptr;
  std::int64_t seq_ = 0;
  bool admitted_ = false, output_done_ = false, cancel_requested_ = false;
  std::string data_;  // scratch for one delta's JSON
};

}  // namespace ladle::server
