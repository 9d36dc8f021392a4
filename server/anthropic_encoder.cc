#include "server/anthropic_encoder.h"

#include "model/utf8.h"
#include "server/delta_chunk_writer.h"
#include "server/json_fields.h"

namespace ladle::server {
namespace {

const char* error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    default: break;
  }
  return status >= 500 ? "api_error" : "invalid_request_error";
}

json error_object(const ApiError& e) { return {{"type", error_type(e.status)}, {"message", e.message}}; }

json usage_json(int prompt_tokens, int cached, int output_tokens) {
  return {{"input_tokens", prompt_tokens - cached},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", cached},
          {"output_tokens", output_tokens}};
}

json stop_reason(const scheduler::Finish& f) {
  if (f.reason == scheduler::FinishReason::kLength)
    return f.context_full ? "model_context_window_exceeded" : "max_tokens";
  return f.stop_sequence.empty() ? "end_turn" : "stop_sequence";
}

json stop_sequence(const scheduler::Finish& f) {
  return f.stop_sequence.empty() ? json(nullptr) : json(f.stop_sequence);
}

}  // namespace

std::string anthropic_error_json(const ApiError& error, std::string_view request_id) {
  json j = {{"type", "error"}, {"error", error_object(error)}};
  if (!request_id.empty()) j["request_id"] = request_id;
  return dump(j);
}

HttpReply anthropic_error_reply(const ApiError& error, std::string_view request_id) {
  HttpReply r = json_reply(static_cast<unsigned>(error.status), anthropic_error_json(error, request_id));
  if (error.status == 429) r.headers.emplace_back("retry-after", "1");
  return r;
}

AnthropicEncoder::AnthropicEncoder(std::string id, std::string model, int prompt_tokens, std::string request_id)
    : id_(std::move(id)), model_(std::move(model)), prompt_tokens_(prompt_tokens), request_id_(std::move(request_id)) {}

void AnthropicEncoder::admitted(int cached_prompt_tokens, EventOut& out) { start(cached_prompt_tokens, out); }

void AnthropicEncoder::start(int cached, EventOut& out) {
  if (started_) return;
  started_ = true;
  json message = {{"id", id_},           {"type", "message"},      {"role", "assistant"},
                  {"model", model_},     {"content", json::array()}, {"stop_reason", nullptr},
                  {"stop_sequence", nullptr}, {"usage", usage_json(prompt_tokens_, cached, 0)}};
  out.event("message_start", dump({{"type", "message_start"}, {"message", std::move(message)}}));
  out.event("content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
}

// The hot path: one text_delta, escaped into a fixed frame.
void AnthropicEncoder::delta(std::string_view text, std::span<const scheduler::TokenLogprob>, EventOut& out) {
  start(0, out);  // never needed with the real engine (admission comes first); keeps the order
  data_.assign(R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")");
  if (model::is_valid_utf8(text)) append_json_escaped(data_, text);
  else append_json_escaped(data_, model::sanitize_utf8(text));  // never from the engine
  data_ += "\"}}";
  out.event("content_block_delta", data_);
}

void AnthropicEncoder::finish(const scheduler::Finish& f, EventOut& out) {
  start(f.usage.cached_prompt_tokens, out);
  out.event("content_block_stop", R"({"type":"content_block_stop","index":0})");
  json usage = {{"output_tokens", f.usage.completion_tokens}};
  out.event("message_delta", dump({{"type", "message_delta"},
                                   {"delta", {{"stop_reason", stop_reason(f)}, {"stop_sequence", stop_sequence(f)}}},
                                   {"usage", std::move(usage)}}));
  out.event("message_stop", R"({"type":"message_stop"})");
}

void AnthropicEncoder::fail(const ApiError& error, EventOut& out) {
  out.event("error", anthropic_error_json(error, request_id_));
}

void AnthropicEncoder::ping(EventOut& out) { out.event("ping", R"({"type":"ping"})"); }

HttpReply AnthropicEncoder::reply(const GenerationOutput& output, const scheduler::Finish& f) {
  json j = {{"id", id_},
            {"type", "message"},
            {"role", "assistant"},
            {"model", model_},
            {"content", json::array({{{"type", "text"}, {"text", output.text}}})},
            {"stop_reason", stop_reason(f)},
            {"stop_sequence", stop_sequence(f)},
            {"usage", usage_json(f.usage.prompt_tokens, f.usage.cached_prompt_tokens, f.usage.completion_tokens)}};
  return json_reply(200, dump(j));
}

}  // namespace ladle::server
