#include "server/openai_api.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "server/json_limits.h"

namespace ladle::server {
namespace {

using nlohmann::json;
using Parsed = std::variant<CompletionRequest, ApiError>;

// dump() that never throws: engine text is UTF-8 safe, but a replacement beats an exception.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<ApiError> read_float(const json& body, const char* key, float* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return invalid_param(key, std::string(key) + " must be a number");
  double v = it->get<double>();
  if (!std::isfinite(v)) return invalid_param(key, std::string(key) + " must be finite");
  *out = static_cast<float>(v);
  return std::nullopt;
}

std::optional<ApiError> read_int(const json& body, const char* key, int* out, bool* given = nullptr) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  bool integral = it->is_number_integer() ||
                  (it->is_number_float() && std::trunc(it->get<double>()) == it->get<double>());
  if (!integral) return invalid_param(key, std::string(key) + " must be an integer");
  double v = it->get<double>();
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    return invalid_param(key, std::string(key) + " is out of range");
  *out = static_cast<int>(v);
  if (given) *given = true;
  return std::nullopt;
}

std::optional<ApiError> read_bool(const json& body, const char* key, bool* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return invalid_param(key, std::string(key) + " must be a boolean");
  *out = it->get<bool>();
  return std::nullopt;
}

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
  if (auto e = read_bool(body, "ignore_eos", &p.ignore_eos)) return e;
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
// request argument supplied"), and so does ladle: a typo such as "max_token" would otherwise run
// with the default silently. Fields of OpenAI's API that ladle does not implement (logprobs,
// penalties, tools, ...) pass only at their neutral value, which is what SDKs and tools send by
// default, and are refused otherwise rather than ignored: the client asked for something it
// would not get.
bool is_zero(const json& v) { return v.is_number() && v.get<double>() == 0; }
bool is_false(const json& v) { return v.is_boolean() && !v.get<bool>(); }
bool empty_container(const json& v) { return (v.is_object() || v.is_array()) && v.empty(); }
bool none_or_auto(const json& v) { return v == "none" || v == "auto"; }

struct FieldRule {
  const char* name;
  bool completions, chat;           // the endpoints that know the field
  bool (*neutral)(const json&);     // null: ladle reads the field itself
};

constexpr FieldRule kFields[] = {
    {"model", true, true, nullptr},
    {"prompt", true, false, nullptr},
    {"messages", false, true, nullptr},
    {"max_tokens", true, true, nullptr},
    {"max_completion_tokens", false, true, nullptr},
    {"temperature", true, true, nullptr},
    {"top_p", true, true, nullptr},
    {"top_k", true, true, nullptr},
    {"min_p", true, true, nullptr},
    {"seed", true, true, nullptr},
    {"stop", true, true, nullptr},
    {"ignore_eos", true, true, nullptr},
    {"stream", true, true, nullptr},
    {"stream_options", true, true, nullptr},
    {"n", true, true, nullptr},
    {"user", true, true, nullptr},
    {"frequency_penalty", true, true, is_zero},
    {"presence_penalty", true, true, is_zero},
    {"logit_bias", true, true, empty_container},
    {"logprobs", true, true, is_false},
    {"top_logprobs", false, true, is_zero},
    {"echo", true, false, is_false},
    {"best_of", true, false, [](const json& v) { return v.is_number() && v.get<double>() == 1; }},
    {"suffix", true, false, [](const json& v) { return v.is_string() && v.get_ref<const std::string&>().empty(); }},
    {"tools", false, true, empty_container},
    {"functions", false, true, empty_container},
    {"tool_choice", false, true, none_or_auto},
    {"function_call", false, true, none_or_auto},
    {"parallel_tool_calls", false, true, [](const json& v) { return v.is_boolean(); }},
    {"response_format", false, true, [](const json& v) { return v == json{{"type", "text"}}; }},
    {"modalities", false, true, [](const json& v) { return v == json::array({"text"}); }},
    {"store", false, true, is_false},
    {"metadata", false, true, [](const json& v) { return v.is_object(); }},
    {"service_tier", false, true, [](const json& v) { return v == "auto" || v == "default"; }},
};

std::optional<ApiError> check_fields(const json& body, Endpoint endpoint) {
  const bool chat = endpoint == Endpoint::kChat;
  for (const auto& [key, value] : body.items()) {
    const FieldRule* rule = nullptr;
    for (const FieldRule& r : kFields)
      if (key == r.name && (chat ? r.chat : r.completions)) rule = &r;
    if (rule == nullptr) return invalid_param(key, "Unrecognized request argument supplied: " + key);
    if (rule->neutral != nullptr && !value.is_null() && !rule->neutral(value))
      return invalid_param(key, key + " is not supported by this server (only its default value is accepted)");
  }
  return std::nullopt;
}

std::optional<ApiError> render_message(const json& m, std::string& out) {
  if (!m.is_object()) return invalid_param("messages", "each message must be an object");
  auto role = m.find("role");
  if (role == m.end() || !role->is_string()) return invalid_param("messages", "message role must be a string");
  const std::string& r = role->get_ref<const std::string&>();
  const char* label = r == "system" || r == "developer" ? "System"
                      : r == "user"                     ? "User"
                      : r == "assistant"                ? "Assistant"
                                                        : nullptr;
  if (!label) return invalid_param("messages", "unknown message role '" + r + "'");
  std::string text;
  auto content = m.find("content");
  if (content == m.end() || content->is_null()) {
    if (r != "assistant") return invalid_param("messages", "message content is missing");
  } else if (content->is_string()) {
    text = content->get<std::string>();
  } else if (content->is_array()) {
    for (const auto& part : *content) {
      if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
          !part["text"].is_string())
        return invalid_param("messages", "only text content parts are supported");
      text += part["text"].get<std::string>();
    }
  } else {
    return invalid_param("messages", "message content must be a string or an array of parts");
  }
  out += label;
  out += ": ";
  out += text;
  out += '\n';
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
  if (!it->is_array() || it->empty())
    return invalid_param("messages", "messages must be a non-empty array");
  for (const auto& m : *it)
    if (auto e = render_message(m, r.prompt)) return e;
  r.prompt += "Assistant:";
  return std::nullopt;
}

json usage_json(const scheduler::Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}}};
}

json chunk_base(const ResponseContext& ctx) {
  bool chat = ctx.endpoint == Endpoint::kChat;
  return {{"id", ctx.id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", ctx.created},
          {"model", ctx.model}};
}

json reason_json(scheduler::FinishReason reason) {
  auto name = finish_reason_name(reason);
  return name ? json(std::string(*name)) : json(nullptr);
}

}  // namespace

ApiError invalid_param(std::string param, std::string message) {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), ""};
}

ApiError api_error_from(const Error& error, std::string param) {
  switch (error.code) {
    case ErrorCode::kInvalidArgument: return invalid_param(std::move(param), error.message);
    case ErrorCode::kResourceExhausted: return {429, error.message, "overloaded_error", "", "overloaded"};
    case ErrorCode::kUnavailable: return {503, error.message, "unavailable_error", "", "unavailable"};
    case ErrorCode::kNotFound: return {404, error.message, "not_found_error", "", ""};
    case ErrorCode::kInternal: break;
  }
  return {500, error.message, "server_error", "", ""};
}

std::string error_json(const ApiError& e) {
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return dump({{"error",
                {{"message", e.message}, {"type", e.type}, {"param", or_null(e.param)},
                 {"code", or_null(e.code)}}}});
}

std::variant<CompletionRequest, ApiError> parse_completion_request(std::string_view body,
                                                                   Endpoint endpoint) {
  if (auto e = check_json_limits(body)) return *e;  // before a tree is built (server/json_limits.h)
  json j;
  try {  // the library reports malformed JSON (and invalid UTF-8) by exception; caught here, once
    j = json::parse(body);
  } catch (const json::parse_error& e) {
    return ApiError{400, std::string("malformed JSON body: ") + e.what(), "invalid_request_error", "", ""};
  }
  if (!j.is_object()) return ApiError{400, "the body must be a JSON object", "invalid_request_error", "", ""};
  CompletionRequest r;
  r.endpoint = endpoint;
  if (auto e = read_prompt(j, r)) return *e;  // first: a chat body without messages is told so
  if (auto e = check_fields(j, endpoint)) return *e;
  if (auto e = read_common(j, r)) return *e;
  return r;
}

std::optional<std::string_view> finish_reason_name(scheduler::FinishReason reason) {
  switch (reason) {
    case scheduler::FinishReason::kStop: return "stop";
    case scheduler::FinishReason::kLength: return "length";
    default: return std::nullopt;
  }
}

std::string delta_chunk_json(const ResponseContext& ctx, std::string_view text, bool first) {
  json j = chunk_base(ctx);
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  if (ctx.endpoint == Endpoint::kChat) {
    json delta = {{"content", text}};
    if (first) delta["role"] = "assistant";
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = text;
  }
  j["choices"] = json::array({std::move(choice)});
  return dump(j);
}

std::string finish_chunk_json(const ResponseContext& ctx, scheduler::FinishReason reason) {
  json j = chunk_base(ctx);
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", reason_json(reason)}};
  if (ctx.endpoint == Endpoint::kChat) choice["delta"] = json::object();
  else choice["text"] = "";
  j["choices"] = json::array({std::move(choice)});
  return dump(j);
}

std::string usage_chunk_json(const ResponseContext& ctx, const scheduler::Usage& usage) {
  json j = chunk_base(ctx);
  j["choices"] = json::array();
  j["usage"] = usage_json(usage);
  return dump(j);
}

std::string full_response_json(const ResponseContext& ctx, std::string_view text,
                               const scheduler::Finish& finish) {
  bool chat = ctx.endpoint == Endpoint::kChat;
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", reason_json(finish.reason)}};
  if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
  else choice["text"] = text;
  json j = {{"id", ctx.id},
            {"object", chat ? "chat.completion" : "text_completion"},
            {"created", ctx.created},
            {"model", ctx.model},
            {"choices", json::array({std::move(choice)})},
            {"usage", usage_json(finish.usage)}};
  return dump(j);
}

}  // namespace ladle::server
