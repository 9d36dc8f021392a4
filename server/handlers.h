// Pure endpoint handlers: parse → validate → ask the engine → build the reply. No sockets, so each
// is unit-tested with a fake engine. Generation endpoints stop short of submit(): they return a
// GenerationJob that the session submits and streams.
//
// Thread-safety: free functions; the Engine methods they call are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "scheduler/engine.h"
#include "server/openai_api.h"
#include "server/server_state.h"

namespace ladle::server {

// A complete, non-streamed HTTP reply.
struct HttpReply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, Retry-After)
};

HttpReply json_reply(unsigned status, std::string body);
// The OpenAI error body with its status; 429 also gets "Retry-After: 1".
HttpReply error_reply(const ApiError& error);

// A validated generation ready to submit.
struct GenerationJob {
  scheduler::GenerationRequest request;
  ResponseContext context;
  bool stream = false;
};

// GET /v1/models: the one served model.
HttpReply handle_models(const scheduler::ModelInfo& info, std::int64_t created);
// GET /v1/models/{id}: the model object when `id` is the served model's, else 404 model_not_found.
HttpReply handle_model(const scheduler::ModelInfo& info, std::string_view id, std::int64_t created);
// GET /health: 200 {"status":"ok"} when ready, 503 {"status":"loading"|"draining"} otherwise.
HttpReply handle_health(Health health);
// POST /tokenize {"prompt"|"content": str, "add_special_tokens": bool=true}
//   → {"tokens": [...], "count": n, "max_model_len": ctx}.
HttpReply handle_tokenize(const scheduler::Engine& engine, std::string_view body);
// POST /detokenize {"tokens": [int...]} → {"prompt": text, "content": text}.
HttpReply handle_detokenize(const scheduler::Engine& engine, std::string_view body);

// POST /v1/completions and /v1/chat/completions up to (not including) submit: the prompt is
// tokenized with BOS, and a prompt that fills the context is refused (400,
// code context_length_exceeded). Chat without max_tokens may run to the end of the context.
std::variant<GenerationJob, ApiError> prepare_generation(const scheduler::Engine& engine,
                                                         std::string_view body, Endpoint endpoint,
                                                         std::string response_id,
                                                         std::int64_t created);

}  // namespace ladle::server
