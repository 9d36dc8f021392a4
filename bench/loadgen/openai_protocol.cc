#include "bench/loadgen/openai_protocol.h"

#include <nlohmann/json.hpp>

#include "bench/loadgen/chunk_scanner.h"

namespace ladle::loadgen {

using nlohmann::json;

Expected<ApiEndpoint> parse_endpoint(std::string_view text) {
  if (text == "completions" || text == "/v1/completions") return ApiEndpoint::kCompletions;
  if (text == "chat" || text == "chat/completions" || text == "/v1/chat/completions") return ApiEndpoint::kChat;
  return make_error(ErrorCode::kInvalidArgument,
                    "--endpoint must be /v1/completions or /v1/chat/completions, not " + std::string(text));
}

std::string_view endpoint_path(ApiEndpoint endpoint) {
  return endpoint == ApiEndpoint::kChat ? "/v1/chat/completions" : "/v1/completions";
}

std::string build_request_body(const CompletionRequest& r) {
  json body;
  if (!r.model.empty()) body["model"] = r.model;
  if (r.endpoint == ApiEndpoint::kChat) {
    body["messages"] = json::array({{{"role", "user"}, {"content", r.prompt}}});
  } else {
    body["prompt"] = r.prompt;
  }
  body["max_tokens"] = r.max_tokens;
  body["temperature"] = r.temperature;
  body["stream"] = r.stream;
  if (r.stream) body["stream_options"] = {{"include_usage", true}};
  if (r.ignore_eos) body["ignore_eos"] = true;
  if (r.seed) body["seed"] = *r.seed;
  if (!r.stop.empty()) body["stop"] = r.stop;
  return body.dump();
}

namespace {

std::optional<std::string> error_text(const json& j) {
  auto it = j.find("error");
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("message") && (*it)["message"].is_string())
    return (*it)["message"].get<std::string>();
  return it->dump();
}

std::string choice_text(const json& choice, ApiEndpoint endpoint) {
  auto text_of = [](const json& j, const char* key) -> std::string {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (endpoint == ApiEndpoint::kCompletions) return text_of(choice, "text");
  for (const char* holder : {"delta", "message"}) {
    auto it = choice.find(holder);
    if (it == choice.end() || !it->is_object()) continue;
    std::string s = text_of(*it, "content");
    // NOTE(loadgen): reasoning models stream "reasoning_content" first; it is output too.
    if (s.empty()) s = text_of(*it, "reasoning_content");
    return s;
  }
  return {};
}

}  // namespace

Expected<ChunkInfo> parse_chunk(std::string_view text, ApiEndpoint endpoint) {
  if (auto fast = scan_chunk(text, endpoint)) return *std::move(fast);
  return parse_chunk_document(text, endpoint);
}

Expected<ChunkInfo> parse_chunk_document(std::string_view text, ApiEndpoint endpoint) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return make_error(ErrorCode::kInvalidArgument, "chunk is not a JSON object: " + std::string(text.substr(0, 200)));
  ChunkInfo info;
  info.error = error_text(j);
  if (auto it = j.find("choices"); it != j.end() && it->is_array() && !it->empty()) {
    const json& choice = (*it)[0];
    info.content = choice_text(choice, endpoint);
    if (auto fr = choice.find("finish_reason"); fr != choice.end() && fr->is_string())
      info.finish_reason = fr->get<std::string>();
  }
  if (auto it = j.find("usage"); it != j.end() && it->is_object()) {
    if (auto c = it->find("completion_tokens"); c != it->end() && c->is_number_integer()) info.completion_tokens = c->get<int>();
    if (auto p = it->find("prompt_tokens"); p != it->end() && p->is_number_integer()) info.prompt_tokens = p->get<int>();
  }
  return info;
}

Expected<std::string> first_model_id(std::string_view models_json) {
  json j = json::parse(models_json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j["data"].is_array())
    return make_error(ErrorCode::kInvalidArgument, "GET /v1/models did not return {\"data\": [...]}");
  for (const auto& m : j["data"])
    if (m.is_object() && m.contains("id") && m["id"].is_string()) return m["id"].get<std::string>();
  return make_error(ErrorCode::kNotFound, "GET /v1/models lists no model");
}

}  // namespace ladle::loadgen
