// The server events of one response on a `/v1/realtime` WebSocket (OpenAI Realtime GA names, text
// only): response.created (accepted) → response.output_item.added, response.content_part.added
// (admitted) → response.output_text.delta* → response.output_text.done,
// response.content_part.done, response.output_item.done → response.done, whose response.status is
// completed, incomplete (status_details.reason max_output_tokens) or cancelled (client_cancelled)
// or failed. Each event's JSON is one WebSocket text message (EventOut::event's data; the type is
// inside it).
//
// Thread-safety: one strand (the session's).
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "server/stream_encoder.h"

namespace ladle::server {

// "event_<tag><n>": the server's event ids on one connection.
class EventIds {
 public:
  explicit EventIds(std::string tag) : tag_(std::move(tag)) {}
  std::string next() { return "event_" + tag_ + std::to_string(++n_); }

 private:
  std::string tag_;
  std::uint64_t n_ = 0;
};

class RealtimeEncoder final : public StreamEncoder {
 public:
  RealtimeEncoder(std::string response_id, std::string item_id, EventIds& ids);

  void accepted(EventOut& out) override;
  void admitted(int cached_prompt_tokens, EventOut& out) override;
  void delta(std::string_view text, std::span<const scheduler::TokenLogprob> logprobs, EventOut& out) override;
  void finish(const scheduler::Finish& finish, EventOut& out) override;
  void fail(const ApiError& error, EventOut& out) override;
  void ping(EventOut&) override {}  // the WebSocket's own pings keep it alive
  HttpReply reply(const GenerationOutput&, const scheduler::Finish&) override { return {}; }  // always streamed
  HttpReply error(const ApiError& error) override;

  // The client asked for response.cancel: the cancelled finish that follows is "cancelled".
  void set_cancel_requested() { cancel_requested_ = true; }
  const std::string& text() const { return text_; }
  const std::string& item_id() const { return item_id_; }
  const std::string& response_id() const { return response_id_; }

 private:
  void emit(nlohmann::json event, EventOut& out);
  nlohmann::json item(const char* status) const;
  void done(const char* status, nlohmann::json details, const scheduler::Usage* usage, EventOut& out);

  const std::string response_id_, item_id_;
  EventIds& ids_;
  std::string text_;
  std::string data_;  // scratch: one delta's JSON
  bool admitted_ = false, cancel_requested_ = false;
};

}  // namespace ladle::server
