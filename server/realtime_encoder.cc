#include "server/realtime_encoder.h"

#include "model/utf8.h"
#include "server/delta_chunk_writer.h"
#include "server/json_fields.h"

namespace ladle::server {

RealtimeEncoder::RealtimeEncoder(std::string response_id, std::string item_id, EventIds& ids)
    : response_id_(std::move(response_id)), item_id_(std::move(item_id)), ids_(ids) {}

void RealtimeEncoder::emit(json event, EventOut& out) {
  event["event_id"] = ids_.next();
  out.event({}, dump(event));
}

json RealtimeEncoder::item(const char* status) const {
  json content = json::array();
  if (admitted_) content.push_back({{"type", "text"}, {"text", text_}});
  return {{"id", item_id_}, {"object", "realtime.item"}, {"type", "message"}, {"status", status},
          {"role", "assistant"}, {"content", std::move(content)}};
}

void RealtimeEncoder::accepted(EventOut& out) {
  emit({{"type", "response.created"},
        {"response", {{"id", response_id_}, {"object", "realtime.response"}, {"status", "in_progress"},
                      {"status_details", nullptr}, {"output", json::array()}, {"usage", nullptr}}}},
       out);
}

void RealtimeEncoder::admitted(int, EventOut& out) {
  if (admitted_) return;
  emit({{"type", "response.output_item.added"}, {"response_id", response_id_}, {"output_index", 0}, {"item", item("in_progress")}},
       out);
  admitted_ = true;
  emit({{"type", "response.content_part.added"}, {"response_id", response_id_}, {"item_id", item_id_}, {"output_index", 0},
        {"content_index", 0}, {"part", {{"type", "text"}, {"text", ""}}}},
       out);
}

// The hot path: the delta's JSON written around the escaped text.
void RealtimeEncoder::delta(std::string_view text, std::span<const scheduler::TokenLogprob>, EventOut& out) {
  admitted(0, out);
  text_ += text;
  data_.assign(R"({"type":"response.output_text.delta","event_id":")");
  data_ += ids_.next();
  data_ += R"(","response_id":")";
  data_ += response_id_;
  data_ += R"(","item_id":")";
  data_ += item_id_;
  data_ += R"(","output_index":0,"content_index":0,"delta":")";
  if (model::is_valid_utf8(text)) append_json_escaped(data_, text);
  else append_json_escaped(data_, model::sanitize_utf8(text));  // never from the engine
  data_ += "\"}";
  out.event({}, data_);
}

void RealtimeEncoder::done(const char* status, json details, const scheduler::Usage* usage, EventOut& out) {
  if (admitted_) {
    emit({{"type", "response.output_text.done"}, {"response_id", response_id_}, {"item_id", item_id_}, {"output_index", 0},
          {"content_index", 0}, {"text", text_}},
         out);
    emit({{"type", "response.content_part.done"}, {"response_id", response_id_}, {"item_id", item_id_}, {"output_index", 0},
          {"content_index", 0}, {"part", {{"type", "text"}, {"text", text_}}}},
         out);
    emit({{"type", "response.output_item.done"}, {"response_id", response_id_}, {"output_index", 0}, {"item", item("completed")}},
         out);
  }
  json u = nullptr;
  if (usage)
    u = {{"total_tokens", usage->prompt_tokens + usage->completion_tokens},
         {"input_tokens", usage->prompt_tokens},
         {"output_tokens", usage->completion_tokens},
         {"input_token_details", {{"cached_tokens", usage->cached_prompt_tokens}, {"text_tokens", usage->prompt_tokens}}},
         {"output_token_details", {{"text_tokens", usage->completion_tokens}}}};
  json output = json::array();
  if (admitted_) output.push_back(item("completed"));
  emit({{"type", "response.done"},
        {"response", {{"id", response_id_}, {"object", "realtime.response"}, {"status", status},
                      {"status_details", std::move(details)}, {"output", std::move(output)}, {"usage", std::move(u)}}}},
       out);
}

void RealtimeEncoder::finish(const scheduler::Finish& f, EventOut& out) {
  if (f.reason == scheduler::FinishReason::kLength)
    return done("incomplete", {{"type", "incomplete"}, {"reason", "max_output_tokens"}}, &f.usage, out);
  done("completed", nullptr, &f.usage, out);
}

void RealtimeEncoder::fail(const ApiError& error, EventOut& out) {
  if (cancel_requested_) return done("cancelled", {{"type", "cancelled"}, {"reason", "client_cancelled"}}, nullptr, out);
  done("failed", {{"type", "failed"}, {"error", {{"type", "server_error"}, {"message", error.message}}}}, nullptr, out);
}

HttpReply RealtimeEncoder::error(const ApiError& error) { return json_reply(unsigned(error.status), ""); }

}  // namespace ladle::server
