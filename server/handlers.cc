#include "server/handlers.h"

#include <nlohmann/json.hpp>

#include "server/anthropic_encoder.h"
#include "server/anthropic_request.h"
#include "server/json_fields.h"
#include "server/responses_request.h"

namespace ladle::server {
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
  bool flags[2] = {true, true};  // add_special_tokens, parse_special
  for (int i = 0; i < 2; ++i) {
    const char* name = i == 0 ? "add_special_tokens" : "parse_special";
    if (auto b = j->find(name); b != j->end()) {
      if (!b->is_boolean()) return error_reply(invalid_param(name, std::string(name) + " must be a boolean"));
      flags[i] = b->get<bool>();
    }
  }
  Expected<std::vector<TokenId>> tokens = std::vector<TokenId>();
  const char* param = "prompt";
  if (auto m = j->find("messages"); m != j->end()) {  // a conversation, as chat completions render it
    param = "messages";
    std::vector<scheduler::ChatMessage> messages;
    if (auto e = read_chat_messages(*m, messages)) return error_reply(*e);
    tokens = engine.tokenize_chat(messages, /*continue_last=*/false);
  } else {
    const char* key = j->contains("prompt") ? "prompt" : "content";
    auto it = j->find(key);
    if (it == j->end() || !it->is_string())
      return error_reply(invalid_param("prompt", "prompt must be a string (or messages a list of chat messages)"));
    tokens = engine.tokenize(it->get_ref<const std::string&>(), flags[0], flags[1]);
  }
  if (!tokens) return error_reply(api_error_from(tokens.error(), param));
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

namespace {

// A prompt's tokens (from Engine::tokenize or tokenize_chat), refused when they leave no room in
// the context.
std::variant<std::vector<TokenId>, ApiError> checked_prompt(const scheduler::Engine& engine,
                                                            Expected<std::vector<TokenId>> tokens, const char* param) {
  if (!tokens) return api_error_from(tokens.error(), param);
  const int context = engine.model_info().context_length;
  if (static_cast<int>(tokens->size()) >= context) {
    ApiError e = invalid_param(param, "the prompt has " + std::to_string(tokens->size()) +
                                          " tokens; this model's context holds " + std::to_string(context));
    e.code = "context_length_exceeded";
    return e;
  }
  return std::move(*tokens);
}

TokenBytes token_bytes_of(const scheduler::Engine& engine) {
  return [&engine](TokenId id) { return engine.token_bytes(id); };
}

}  // namespace

std::variant<GenerationJob, ApiError> prepare_generation(const scheduler::Engine& engine,
                                                         std::string_view body, Endpoint endpoint,
                                                         std::string response_id,
                                                         std::int64_t created) {
  auto parsed = parse_completion_request(body, endpoint);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  auto& req = std::get<CompletionRequest>(parsed);
  const char* prompt_param = endpoint == Endpoint::kChat ? "messages" : "prompt";
  const auto& info = engine.model_info();
  std::vector<TokenId> tokens;
  if (req.prompt_tokens) {  // ids from the client; the tokenizer's own are in range
    for (TokenId t : *req.prompt_tokens)
      if (t >= info.vocab_size)
        return invalid_param(prompt_param, "token id " + std::to_string(t) + " is outside the vocabulary (" +
                                               std::to_string(info.vocab_size) + " tokens)");
    if (static_cast<int>(req.prompt_tokens->size()) >= info.context_length) {
      ApiError e = invalid_param(prompt_param, "the prompt has " + std::to_string(req.prompt_tokens->size()) +
                                                   " tokens; this model's context holds " +
                                                   std::to_string(info.context_length));
      e.code = "context_length_exceeded";
      return e;
    }
    tokens = *req.prompt_tokens;
  } else {
    auto t = checked_prompt(engine,
                            endpoint == Endpoint::kChat ? engine.tokenize_chat(req.messages, /*continue_last=*/false)
                                                        : engine.tokenize(req.prompt, /*add_special=*/true, /*parse_special=*/true),
                            prompt_param);
    if (auto* e = std::get_if<ApiError>(&t)) return *e;
    tokens = std::move(std::get<std::vector<TokenId>>(t));
  }
  GenerationJob job;
  job.request.prompt_tokens = std::move(tokens);
  job.request.params = std::move(req.params);
  job.request.priority = req.priority;
  if (endpoint == Endpoint::kChat && !req.max_tokens_given) job.request.params.max_tokens = info.context_length;
  const bool logprobs = job.request.params.logprobs >= 0;
  std::optional<OpenAiEncoder::Echo> echo;
  if (req.echo) {  // the prompt as sent (a token prompt as its text)
    auto text = req.prompt_tokens ? engine.detokenize(job.request.prompt_tokens) : Expected<std::string>(req.prompt);
    if (!text) return api_error_from(text.error(), prompt_param);
    echo = OpenAiEncoder::Echo{std::move(*text), job.request.prompt_tokens, info.bos};
  }
  job.encoder = std::make_unique<OpenAiEncoder>(
      ResponseContext{endpoint, std::move(response_id), info.name, created, req.include_usage}, logprobs,
      token_bytes_of(engine), std::move(echo));
  job.stream = req.stream;
  return job;
}

std::variant<GenerationJob, ApiError> prepare_messages(const scheduler::Engine& engine, std::string_view body,
                                                       std::string message_id, std::string request_id) {
  auto parsed = parse_messages_request(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  auto& req = std::get<AnthropicRequest>(parsed);
  auto tokens = checked_prompt(engine, engine.tokenize_chat(req.messages, /*continue_last=*/true), "messages");
  if (auto* e = std::get_if<ApiError>(&tokens)) return *e;
  GenerationJob job;
  job.request.prompt_tokens = std::move(std::get<std::vector<TokenId>>(tokens));
  job.request.params = std::move(req.params);
  job.request.priority = req.priority;
  job.encoder = std::make_unique<AnthropicEncoder>(std::move(message_id), engine.model_info().name,
                                                   int(job.request.prompt_tokens.size()), std::move(request_id));
  job.stream = req.stream;
  return job;
}

std::variant<HttpReply, ApiError> handle_count_tokens(const scheduler::Engine& engine, std::string_view body) {
  auto parsed = parse_count_tokens_request(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  auto tokens = engine.tokenize_chat(std::get<AnthropicRequest>(parsed).messages, /*continue_last=*/true);
  if (!tokens) return api_error_from(tokens.error(), "messages");
  return json_reply(200, dump({{"input_tokens", tokens->size()}}));
}

std::variant<GenerationJob, BackgroundJob, ApiError> prepare_responses(const scheduler::Engine& engine,
                                                                       std::string_view body,
                                                                       std::string response_id,
                                                                       std::int64_t created) {
  auto parsed = parse_responses_request(body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  auto& req = std::get<ResponsesRequest>(parsed);
  auto tokens = checked_prompt(engine, engine.tokenize_chat(req.messages, /*continue_last=*/false), "input");
  if (auto* e = std::get_if<ApiError>(&tokens)) return *e;
  scheduler::GenerationRequest request;
  request.prompt_tokens = std::move(std::get<std::vector<TokenId>>(tokens));
  request.params = req.params;
  request.priority = req.priority;
  if (!req.max_tokens_given) request.params.max_tokens = engine.model_info().context_length;
  auto encoder = std::make_unique<ResponsesEncoder>(std::move(response_id), req, engine.model_info().name, created,
                                                    token_bytes_of(engine));
  if (req.background) return BackgroundJob{std::move(request), std::move(encoder), req.stream};
  GenerationJob job;
  job.request = std::move(request);
  job.encoder = std::move(encoder);
  job.stream = req.stream;
  return job;
}

}  // namespace ladle::server
