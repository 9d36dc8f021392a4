#include "server/anthropic_request.h"

#include <vector>

#include "server/json_fields.h"

namespace ladle::server {
namespace {

constexpr unsigned kCreate = 1, kCount = 2, kBoth = kCreate | kCount;

bool auto_or_none(const json& v) { return v == "auto" || v == "none" || (v.is_object() && v.value("type", "") == "auto"); }
bool thinking_off(const json& v) { return v.is_object() && v.value("type", "") == "disabled"; }

constexpr FieldRule kFields[] = {
    {"model", kBoth, nullptr},
    {"messages", kBoth, nullptr},
    {"system", kBoth, nullptr},
    {"max_tokens", kCreate, nullptr},
    {"stop_sequences", kCreate, nullptr},
    {"temperature", kCreate, nullptr},
    {"top_p", kCreate, nullptr},
    {"top_k", kCreate, nullptr},
    {"stream", kCreate, nullptr},
    {"priority", kCreate, nullptr},
    {"metadata", kCreate, is_object},
    {"service_tier", kCreate, [](const json& v) { return v == "auto" || v == "standard_only"; }},
    {"tools", kBoth, empty_container},
    {"tool_choice", kBoth, auto_or_none},
    {"thinking", kBoth, thinking_off},
    {"mcp_servers", kCreate, empty_container},
    {"container", kCreate, nullptr},  // read below: always refused when set
};

std::string extra_input(const std::string& key) { return key + ": Extra inputs are not permitted"; }

// The text of a content value: a string, or an array of blocks of which only text is supported.
std::optional<ApiError> read_text(const json& content, const char* param, std::string& out,
                                  bool drop_billing_header) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) return invalid_param(param, std::string(param) + ": content must be a string or a list of blocks");
  for (const auto& block : content) {
    if (!block.is_object()) return invalid_param(param, std::string(param) + ": each content block must be an object");
    const std::string type = block.value("type", "");
    if (type != "text")
      return invalid_param(param, std::string(param) + ": content blocks of type '" + type +
                                      "' are not supported by this server (text only)");
    auto text = block.find("text");
    if (text == block.end() || !text->is_string())
      return invalid_param(param, std::string(param) + ": a text block needs a string 'text'");
    const std::string& t = text->get_ref<const std::string&>();
    if (drop_billing_header && t.starts_with("x-anthropic-billing-header")) continue;
    out += t;
  }
  return std::nullopt;
}

std::optional<ApiError> read_conversation(const json& body, AnthropicRequest& r) {
  using scheduler::ChatMessage;
  using scheduler::ChatRole;
  std::vector<ChatMessage>& messages = r.messages;
  if (auto it = body.find("system"); it != body.end() && !it->is_null()) {
    ChatMessage system{ChatRole::kSystem, ""};
    if (auto e = read_text(*it, "system", system.text, /*drop_billing_header=*/true)) return e;
    if (!system.text.empty()) messages.push_back(std::move(system));
  }
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return invalid_param("messages", "messages: Field required");
  if (!it->is_array() || it->empty()) return invalid_param("messages", "messages: must be a non-empty list");
  for (const auto& m : *it) {
    if (!m.is_object()) return invalid_param("messages", "messages: each message must be an object");
    const std::string role = m.value("role", "");
    ChatMessage msg;
    if (role == "user") msg.role = ChatRole::kUser;
    else if (role == "assistant") msg.role = ChatRole::kAssistant;
    else return invalid_param("messages", "messages: role must be 'user' or 'assistant', not '" + role + "'");
    auto content = m.find("content");
    if (content == m.end()) return invalid_param("messages", "messages: content: Field required");
    if (auto e = read_text(*content, "messages", msg.text, false)) return e;
    messages.push_back(std::move(msg));
  }
  return std::nullopt;
}

std::variant<AnthropicRequest, ApiError> parse(std::string_view body, unsigned where) {
  ApiError error;
  auto parsed = parse_object(body, error);
  if (!parsed) return error;
  const json& j = *parsed;
  if (auto e = check_fields(j, kFields, where, extra_input)) return *e;
  if (j.contains("container") && !j["container"].is_null())
    return invalid_param("container", "container is not supported by this server");
  AnthropicRequest r;
  auto model = j.find("model");
  if (model == j.end() || !model->is_string()) return invalid_param("model", "model: Field required (a string)");
  r.model = model->get<std::string>();
  if (auto e = read_conversation(j, r)) return *e;
  if (where == kCount) return r;
  auto& p = r.params;
  bool given = false;
  if (auto e = read_int(j, "max_tokens", &p.max_tokens, &given)) return *e;
  if (!given) return invalid_param("max_tokens", "max_tokens: Field required");
  if (p.max_tokens < 1) return invalid_param("max_tokens", "max_tokens: must be greater than or equal to 1");
  if (auto e = read_float(j, "temperature", &p.temperature)) return *e;
  if (p.temperature < 0 || p.temperature > 1) return invalid_param("temperature", "temperature: must be in [0, 1]");
  if (auto e = read_float(j, "top_p", &p.top_p)) return *e;
  if (auto e = read_int(j, "top_k", &p.top_k)) return *e;
  if (auto e = read_bool(j, "stream", &r.stream)) return *e;
  if (auto e = read_int(j, "priority", &r.priority)) return *e;
  if (auto it = j.find("stop_sequences"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return invalid_param("stop_sequences", "stop_sequences: must be a list of strings");
    if (auto e = read_strings(j, "stop_sequences", &p.stop)) return *e;
  }
  if (auto it = j.find("metadata"); it != j.end() && it->is_object())
    if (auto u = it->find("user_id"); u != it->end() && !u->is_null() && !u->is_string())
      return invalid_param("metadata.user_id", "metadata.user_id: must be a string");
  if (Status s = p.validate(); !s.ok()) {
    std::string m = s.error().message;
    std::string param = m.substr(0, m.find(' '));
    if (param == "stop") param = "stop_sequences";
    return invalid_param(param, param + ": " + m);
  }
  return r;
}

}  // namespace

std::variant<AnthropicRequest, ApiError> parse_messages_request(std::string_view body) { return parse(body, kCreate); }

std::variant<AnthropicRequest, ApiError> parse_count_tokens_request(std::string_view body) { return parse(body, kCount); }

}  // namespace ladle::server
