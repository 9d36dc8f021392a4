#include "server/handlers.h"

#include <nlohmann/json.hpp>

#include "server/json_limits.h"

namespace ladle::server {
namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Parses a body that must be a JSON object; nullopt + `error` otherwise.
std::optional<json> parse_object(std::string_view body, ApiError& error) {
  if (auto e = check_json_limits(body)) return error = *e, std::nullopt;  // server/json_limits.h
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    error = ApiError{400, "malformed JSON body", "invalid_request_error", "", ""};
    return std::nullopt;
  }
  if (!j.is_object()) {
    error = ApiError{400, "the body must be a JSON object", "invalid_request_error", "", ""};
    return std::nullopt;
  }
  return j;
}

}  // namespace

HttpReply json_reply(unsigned status, std::string body) {
  HttpReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpReply error_reply(const ApiError& error) {
  HttpReply r = json_reply(static_cast<unsigned>(error.status), error_json(error));
  if (error.status == 429) r.headers.emplace_back("Retry-After", "1");
  return r;
}

namespace {
json model_json(const scheduler::ModelInfo& info, std::int64_t created) {
  return {{"id", info.name},
          {"object", "model"},
          {"created", created},
          {"owned_by", "ladle"},
          {"max_model_len", info.context_length}};
}
}  // namespace

HttpReply handle_models(const scheduler::ModelInfo& info, std::int64_t created) {
  return json_reply(200, dump({{"object", "list"}, {"data", json::array({model_json(info, created)})}}));
}

HttpReply handle_model(const scheduler::ModelInfo& info, std::string_view id, std::int64_t created) {
  if (id != info.name)
    return error_reply(ApiError{404, "the model '" + std::string(id) + "' does not exist (this server serves '" +
                                         info.name + "')",
                                "invalid_request_error", "model", "model_not_found"});
  return json_reply(200, dump(model_json(info, created)));
}

HttpReply handle_health(Health health) {
  switch (health) {
    case Health::kReady: return json_reply(200, R"({"status":"ok"})");
    case Health::kLoading: return json_reply(503, R"({"status":"loading"})");
    case Health::kDraining: break;
  }
  return json_reply(503, R"({"status":"draining"})");
}

HttpReply handle_tokenize(const scheduler::Engine& engine, std::string_view body) {
  ApiError error;
  auto j = parse_object(body, error);
  if (!j) return error_reply(error);
  const char* key = j->contains("prompt") ? "prompt" : "content";
  auto it = j->find(key);
  if (it == j->end() || !it->is_string()) return error_reply(invalid_param("prompt", "prompt must be a string"));
  bool add_bos = true;
  if (auto b = j->find("add_special_tokens"); b != j->end()) {
    if (!b->is_boolean()) return error_reply(invalid_param("add_special_tokens", "add_special_tokens must be a boolean"));
    add_bos = b->get<bool>();
  }
  auto tokens = engine.tokenize(it->get_ref<const std::string&>(), add_bos);
  if (!tokens) return error_reply(api_error_from(tokens.error(), "prompt"));
  json out = {{"tokens", *tokens},
              {"count", tokens->size()},
              {"max_model_len", engine.model_info().context_length}};
  return json_reply(200, dump(out));
}

HttpReply handle_detokenize(const scheduler::Engine& engine, std::string_view body) {
  ApiError error;
  auto j = parse_object(body, error);
  if (!j) return error_reply(error);
  auto it = j->find("tokens");
  if (it == j->end() || !it->is_array()) return error_reply(invalid_param("tokens", "tokens must be an array of integers"));
  std::vector<TokenId> tokens;
  for (const auto& t : *it) {
    if (!t.is_number_integer()) return error_reply(invalid_param("tokens", "tokens must be an array of integers"));
    std::int64_t v = t.get<std::int64_t>();
    if (v < 0 || v >= engine.model_info().vocab_size)
      return error_reply(invalid_param("tokens", "token id " + std::to_string(v) + " is out of range"));
    tokens.push_back(static_cast<TokenId>(v));
  }
  auto text = engine.detokenize(tokens);
  if (!text) return error_reply(api_error_from(text.error(), "tokens"));
  return json_reply(200, dump({{"prompt", *text}, {"content", *text}}));
}

std::variant<GenerationJob, ApiError> prepare_generation(const scheduler::Engine& engine,
                                                         std::string_view body, Endpoint endpoint,
                                                         std::string response_id,
                                                         std::int64_t created) {
  auto parsed = parse_completion_request(body, endpoint);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  auto& req = std::get<CompletionRequest>(parsed);
  const char* prompt_param = endpoint == Endpoint::kChat ? "messages" : "prompt";
  const auto& info = engine.model_info();
  if (req.prompt_tokens)  // ids from the client; the tokenizer's own are in range
    for (TokenId t : *req.prompt_tokens)
      if (t >= info.vocab_size)
        return invalid_param(prompt_param, "token id " + std::to_string(t) + " is outside the vocabulary (" +
                                               std::to_string(info.vocab_size) + " tokens)");
  auto tokens = req.prompt_tokens ? Expected<std::vector<TokenId>>(std::move(*req.prompt_tokens))
                                  : engine.tokenize(req.prompt, /*add_bos=*/true);
  if (!tokens) return api_error_from(tokens.error(), prompt_param);
  if (static_cast<int>(tokens->size()) >= info.context_length) {
    ApiError e = invalid_param(prompt_param, "the prompt has " + std::to_string(tokens->size()) +
                                                 " tokens; this model's context holds " +
                                                 std::to_string(info.context_length));
    e.code = "context_length_exceeded";
    return e;
  }
  GenerationJob job;
  job.request.prompt_tokens = std::move(*tokens);
  job.request.params = std::move(req.params);
  if (endpoint == Endpoint::kChat && !req.max_tokens_given) job.request.params.max_tokens = info.context_length;
  job.context = ResponseContext{endpoint, std::move(response_id), info.name, created, req.include_usage};
  job.stream = req.stream;
  return job;
}

}  // namespace ladle::server
