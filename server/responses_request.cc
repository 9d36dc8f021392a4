#include "server/responses_request.h"

#include <vector>

#include "server/json_fields.h"

namespace ladle::server {
namespace {

bool text_format(const json& v) {
  return v.is_object() && (!v.contains("format") || v["format"] == json{{"type", "text"}});
}
bool none_or_auto(const json& v) { return v == "none" || v == "auto"; }

constexpr FieldRule kFields[] = {
    {"model", 1, nullptr},
    {"input", 1, nullptr},
    {"instructions", 1, nullptr},
    {"max_output_tokens", 1, nullptr},
    {"temperature", 1, nullptr},
    {"top_p", 1, nullptr},
    {"stream", 1, nullptr},
    {"priority", 1, nullptr},
    {"background", 1, nullptr},
    {"store", 1, nullptr},
    {"metadata", 1, nullptr},
    {"prompt_cache_key", 1, nullptr},
    {"user", 1, nullptr},
    {"include", 1, nullptr},
    {"top_logprobs", 1, nullptr},
    {"text", 1, text_format},
    {"tools", 1, empty_container},
    {"tool_choice", 1, none_or_auto},
    {"parallel_tool_calls", 1, [](const json& v) { return v.is_boolean(); }},
    {"truncation", 1, [](const json& v) { return v == "disabled"; }},
    {"service_tier", 1, [](const json& v) { return v == "auto" || v == "default"; }},
    {"reasoning", 1, empty_container},
    {"previous_response_id", 1, [](const json&) { return false; }},
    {"conversation", 1, [](const json&) { return false; }},
    {"prompt", 1, [](const json&) { return false; }},
    {"max_tool_calls", 1, [](const json&) { return false; }},
    {"stream_options", 1, is_object},
};

std::string unrecognized(const std::string& key) { return "Unrecognized request argument supplied: " + key; }

std::optional<ApiError> read_content(const json& content, std::string& out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) return invalid_param("input", "message content must be a string or a list of parts");
  for (const auto& part : content) {
    const std::string type = part.is_object() ? part.value("type", "") : "";
    if (type != "input_text" && type != "output_text")
      return invalid_param("input", "content parts of type '" + type + "' are not supported by this server (text only)");
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) return invalid_param("input", "a text part needs a string 'text'");
    out += text->get<std::string>();
  }
  return std::nullopt;
}

std::optional<ApiError> read_input(const json& body, ResponsesRequest& r) {
  using scheduler::ChatMessage;
  using scheduler::ChatRole;
  std::vector<ChatMessage>& messages = r.messages;
  if (r.instructions) messages.push_back({ChatRole::kSystem, *r.instructions});
  auto it = body.find("input");
  if (it == body.end() || it->is_null()) return invalid_param("input", "input is required");
  if (it->is_string()) {
    messages.push_back({ChatRole::kUser, it->get<std::string>()});
  } else if (it->is_array() && !it->empty()) {
    for (const auto& item : *it) {
      if (!item.is_object()) return invalid_param("input", "each input item must be an object");
      const std::string type = item.value("type", "message");
      if (type != "message") return invalid_param("input", "input items of type '" + type + "' are not supported by this server");
      const std::string role = item.value("role", "");
      ChatMessage m;
      if (role == "user") m.role = ChatRole::kUser;
      else if (role == "assistant") m.role = ChatRole::kAssistant;
      else if (role == "system" || role == "developer") m.role = ChatRole::kSystem;
      else return invalid_param("input", "unknown message role '" + role + "'");
      auto content = item.find("content");
      if (content == item.end()) return invalid_param("input", "a message item needs content");
      if (auto e = read_content(*content, m.text)) return e;
      messages.push_back(std::move(m));
    }
  } else {
    return invalid_param("input", "input must be a string or a non-empty list of items");
  }
  return std::nullopt;
}

std::optional<ApiError> read_logprobs(const json& body, ResponsesRequest& r) {
  bool wanted = false;
  if (auto it = body.find("include"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return invalid_param("include", "include must be a list of strings");
    for (const auto& v : *it) {
      if (v == "message.output_text.logprobs") wanted = true;
      else return invalid_param("include", "include value " + v.dump() + " is not supported by this server");
    }
  }
  int top = -1;
  if (auto e = read_int(body, "top_logprobs", &top)) return e;
  if (top != -1 && (top < 0 || top > 20)) return invalid_param("top_logprobs", "top_logprobs must be an integer in [0, 20]");
  if (wanted) r.params.logprobs = std::max(top, 0);
  return std::nullopt;
}

}  // namespace

std::variant<ResponsesRequest, ApiError> parse_responses_request(std::string_view body) {
  ApiError error;
  auto parsed = parse_object(body, error);
  if (!parsed) return error;
  const json& j = *parsed;
  if (auto e = check_fields(j, kFields, 1, unrecognized)) return *e;
  ResponsesRequest r;
  if (auto e = read_string(j, "model", &r.model)) return *e;
  std::string s;
  if (j.contains("instructions") && !j["instructions"].is_null()) {
    if (auto e = read_string(j, "instructions", &s)) return *e;
    r.instructions = s;
  }
  if (auto e = read_input(j, r)) return *e;
  auto& p = r.params;
  if (auto e = read_int(j, "max_output_tokens", &p.max_tokens, &r.max_tokens_given)) return *e;
  if (r.max_tokens_given && p.max_tokens < 1) return invalid_param("max_output_tokens", "max_output_tokens must be >= 1");
  if (auto e = read_float(j, "temperature", &p.temperature)) return *e;
  if (auto e = read_float(j, "top_p", &p.top_p)) return *e;
  if (auto e = read_bool(j, "stream", &r.stream)) return *e;
  if (auto e = read_int(j, "priority", &r.priority)) return *e;
  if (auto e = read_bool(j, "background", &r.background)) return *e;
  if (auto e = read_bool(j, "store", &r.store)) return *e;
  if (r.background && !r.store) return invalid_param("background", "background mode requires store to be true");
  if (auto it = j.find("metadata"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return invalid_param("metadata", "metadata must be an object");
    for (const auto& [k, v] : it->items())
      if (!v.is_string()) return invalid_param("metadata", "metadata values must be strings");
    r.metadata = *it;
  }
  for (auto [key, out] : {std::pair{"user", &r.user}, std::pair{"prompt_cache_key", &r.prompt_cache_key}}) {
    if (!j.contains(key) || j[key].is_null()) continue;
    if (auto e = read_string(j, key, &s)) return *e;
    *out = s;
  }
  if (auto e = read_logprobs(j, r)) return *e;
  if (Status st = p.validate(); !st.ok()) {
    std::string m = st.error().message;
    return invalid_param(m.substr(0, m.find(' ')), m);
  }
  return r;
}

}  // namespace ladle::server
