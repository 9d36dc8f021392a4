#include "server/openai_request.h"

#include <algorithm>
#include <limits>

#include "server/json_fields.h"

namespace ladle::server {
namespace {

std::optional<ApiError> read_seed_and_stop(const json& body, scheduler::SamplingParams& p) {
  if (auto it = body.find("seed"); it != body.end() && !it->is_null()) {
    if (it->is_number_unsigned()) p.seed = it->get<std::uint64_t>();
    else if (it->is_number_integer()) p.seed = static_cast<std::uint64_t>(it->get<std::int64_t>());
    else return invalid_param("seed", "seed must be an integer");
  }
  auto it = body.find("stop");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) {
    p.stop = {it->get<std::string>()};
  } else if (it->is_array()) {
    for (const auto& s : *it) {
      if (!s.is_string()) return invalid_param("stop", "stop must be a string or an array of strings");
      p.stop.push_back(s.get<std::string>());
    }
  } else {
    return invalid_param("stop", "stop must be a string or an array of strings");
  }
  return std::nullopt;
}

// Completions: `logprobs` = how many alternatives (0..5). Chat: `logprobs` true, and
// `top_logprobs` alternatives (0..20).
std::optional<ApiError> read_logprobs(const json& body, CompletionRequest& r) {
  auto& p = r.params;
  if (r.endpoint == Endpoint::kCompletions) {
    auto it = body.find("logprobs");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (it->is_boolean()) {  // some clients send false for "none"
      if (it->get<bool>()) return invalid_param("logprobs", "logprobs must be an integer in [0, 5]");
      return std::nullopt;
    }
    int n = -1;
    if (auto e = read_int(body, "logprobs", &n)) return e;
    if (n < 0 || n > 5) return invalid_param("logprobs", "logprobs must be an integer in [0, 5]");
    p.logprobs = n;
    return std::nullopt;
  }
  bool wanted = false;
  if (auto e = read_bool(body, "logprobs", &wanted)) return e;
  int top = -1;
  if (auto e = read_int(body, "top_logprobs", &top)) return e;
  if (top != -1 && (top < 0 || top > 20)) return invalid_param("top_logprobs", "top_logprobs must be an integer in [0, 20]");
  if (top > 0 && !wanted) return invalid_param("top_logprobs", "top_logprobs requires logprobs to be true");
  if (wanted) p.logprobs = std::max(top, 0);
  return std::nullopt;
}

// Fields shared by both endpoints.
std::optional<ApiError> read_common(const json& body, CompletionRequest& r) {
  auto& p = r.params;
  if (auto e = read_float(body, "temperature", &p.temperature)) return e;
  if (auto e = read_float(body, "top_p", &p.top_p)) return e;
  if (auto e = read_int(body, "top_k", &p.top_k)) return e;
  if (auto e = read_float(body, "min_p", &p.min_p)) return e;
  if (auto e = read_int(body, "max_tokens", &p.max_tokens, &r.max_tokens_given)) return e;
  if (r.endpoint == Endpoint::kChat)
    if (auto e = read_int(body, "max_completion_tokens", &p.max_tokens, &r.max_tokens_given)) return e;
  if (auto e = read_seed_and_stop(body, p)) return e;
  if (auto e = read_logprobs(body, r)) return e;
  if (r.endpoint == Endpoint::kCompletions) {
    if (auto e = read_bool(body, "echo", &r.echo)) return e;
    if (r.echo) p.prompt_logprobs = p.logprobs;  // -1 when no logprobs were asked for
  }
  if (auto e = read_bool(body, "ignore_eos", &p.ignore_eos)) return e;
  if (auto e = read_int(body, "priority", &r.priority)) return e;
  if (auto e = read_bool(body, "stream", &r.stream)) return e;
  int n = 1;
  if (auto e = read_int(body, "n", &n)) return e;
  if (n != 1) return invalid_param("n", "only n = 1 is supported");
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return invalid_param("stream_options", "stream_options must be an object");
    if (auto e = read_bool(*it, "include_usage", &r.include_usage)) {
      e->param = "stream_options.include_usage";
      return e;
    }
  }
  for (const char* key : {"user", "model"})
    if (auto it = body.find(key); it != body.end() && !it->is_null() && !it->is_string())
      return invalid_param(key, std::string(key) + " must be a string");
  if (Status s = p.validate(); !s.ok()) {
    std::string m = s.error().message;
    return invalid_param(m.substr(0, m.find(' ')), m);
  }
  return std::nullopt;
}

// NOTE(server): unknown fields. OpenAI's API refuses a field it does not know ("Unrecognized
// request argument supplied"), and so does ladle (json_fields.h).
bool none_or_auto(const json& v) { return v == "none" || v == "auto"; }

constexpr unsigned kC = 1, kChatBit = 2, kBoth = kC | kChatBit;

constexpr FieldRule kFields[] = {
    {"model", kBoth, nullptr},
    {"prompt", kC, nullptr},
    {"messages", kChatBit, nullptr},
    {"max_tokens", kBoth, nullptr},
    {"max_completion_tokens", kChatBit, nullptr},
    {"temperature", kBoth, nullptr},
    {"top_p", kBoth, nullptr},
    {"top_k", kBoth, nullptr},
    {"min_p", kBoth, nullptr},
    {"seed", kBoth, nullptr},
    {"stop", kBoth, nullptr},
    {"ignore_eos", kBoth, nullptr},
    {"priority", kBoth, nullptr},
    {"stream", kBoth, nullptr},
    {"stream_options", kBoth, nullptr},
    {"n", kBoth, nullptr},
    {"user", kBoth, nullptr},
    {"frequency_penalty", kBoth, is_zero},
    {"presence_penalty", kBoth, is_zero},
    {"logit_bias", kBoth, empty_container},
    {"logprobs", kBoth, nullptr},
    {"top_logprobs", kChatBit, nullptr},
    {"echo", kC, nullptr},
    {"best_of", kC, [](const json& v) { return v.is_number() && v.get<double>() == 1; }},
    {"suffix", kC, [](const json& v) { return v.is_string() && v.get_ref<const std::string&>().empty(); }},
    {"tools", kChatBit, empty_container},
    {"functions", kChatBit, empty_container},
    {"tool_choice", kChatBit, none_or_auto},
    {"function_call", kChatBit, none_or_auto},
    {"parallel_tool_calls", kChatBit, [](const json& v) { return v.is_boolean(); }},
    {"response_format", kChatBit, [](const json& v) { return v == json{{"type", "text"}}; }},
    {"modalities", kChatBit, [](const json& v) { return v == json::array({"text"}); }},
    {"store", kChatBit, is_false},
    {"metadata", kChatBit, [](const json& v) { return v.is_object(); }},
    {"service_tier", kChatBit, [](const json& v) { return v == "auto" || v == "default"; }},
};

std::string unrecognized(const std::string& key) { return "Unrecognized request argument supplied: " + key; }

using scheduler::ChatMessage;
using scheduler::ChatRole;

std::optional<ApiError> read_message(const json& m, std::vector<ChatMessage>& out) {
  if (!m.is_object()) return invalid_param("messages", "each message must be an object");
  auto role = m.find("role");
  if (role == m.end() || !role->is_string()) return invalid_param("messages", "message role must be a string");
  const std::string& r = role->get_ref<const std::string&>();
  ChatMessage msg;
  if (r == "system" || r == "developer") msg.role = ChatRole::kSystem;
  else if (r == "user") msg.role = ChatRole::kUser;
  else if (r == "assistant") msg.role = ChatRole::kAssistant;
  else return invalid_param("messages", "unknown message role '" + r + "'");
  auto content = m.find("content");
  if (content == m.end() || content->is_null()) {
    if (r != "assistant") return invalid_param("messages", "message content is missing");
  } else if (content->is_string()) {
    msg.text = content->get<std::string>();
  } else if (content->is_array()) {
    for (const auto& part : *content) {
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
          !part["text"].is_string())
        return invalid_param("messages", "only text content parts are supported");
      msg.text += part["text"].get<std::string>();
    }
  } else {
    return invalid_param("messages", "message content must be a string or an array of parts");
  }
  out.push_back(std::move(msg));
  return std::nullopt;
}

std::optional<ApiError> read_prompt(const json& body, CompletionRequest& r) {
  if (r.endpoint == Endpoint::kCompletions) {
    auto it = body.find("prompt");
    if (it == body.end() || it->is_null()) return invalid_param("prompt", "prompt is required");
    if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
      r.prompt = (*it)[0].get<std::string>();
      return std::nullopt;
    }
    if (it->is_array() && !it->empty() && (*it)[0].is_number()) {  // token ids
      std::vector<std::int32_t> ids;
      for (const auto& t : *it) {
        const std::int64_t id = t.is_number_integer() ? t.get<std::int64_t>() : -1;
        if (id < 0 || id > std::numeric_limits<std::int32_t>::max())
          return invalid_param("prompt", "a token prompt must be an array of non-negative integers");
        ids.push_back(static_cast<std::int32_t>(id));
      }
      r.prompt_tokens = std::move(ids);
      return std::nullopt;
    }
    if (it->is_array() && it->size() > 1)
      return invalid_param("prompt", "one prompt per request: a string, or an array of token ids");
    if (!it->is_string()) return invalid_param("prompt", "prompt must be a string");
    r.prompt = it->get<std::string>();
    return std::nullopt;
  }
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return invalid_param("messages", "messages is required");
  return read_chat_messages(*it, r.messages);
}

}  // namespace

std::optional<ApiError> read_chat_messages(const json& messages, std::vector<ChatMessage>& out) {
  if (!messages.is_array() || messages.empty())
    return invalid_param("messages", "messages must be a non-empty array");
  for (const auto& m : messages)
    if (auto e = read_message(m, out)) return e;
  return std::nullopt;
}

std::variant<CompletionRequest, ApiError> parse_completion_request(std::string_view body,
                                                                   Endpoint endpoint) {
  ApiError error;
  auto parsed = parse_object(body, error);
  if (!parsed) return error;
  const json& j = *parsed;
  CompletionRequest r;
  r.endpoint = endpoint;
  if (auto e = read_prompt(j, r)) return *e;  // first: a chat body without messages is told so
  if (auto e = check_fields(j, kFields, endpoint == Endpoint::kChat ? kChatBit : kC, unrecognized)) return *e;
  if (auto e = read_common(j, r)) return *e;
  return r;
}

}  // namespace ladle::server
