// Pure endpoint handlers: parse → validate → ask the engine → build the reply. No sockets, so each
// is unit-tested with a fake engine. Generation endpoints stop short of submit(): they return a
// GenerationJob that the session submits and streams.
//
// Thread-safety: free functions; the Engine methods they call are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "scheduler/engine.h"
#include "server/api_error.h"
#include "server/http_reply.h"
#include "server/openai_encoder.h"
#include "server/responses_encoder.h"
#include "server/server_state.h"

namespace ladle::server {

// A validated generation ready to submit: its request, the dialect encoder of its reply, and
// whether it streams. `headers` go on its reply (the SSE head, or the JSON/error reply).
struct GenerationJob {
  scheduler::GenerationRequest request;
  std::unique_ptr<StreamEncoder> encoder;
  bool stream = false;
  std::vector<std::pair<std::string, std::string>> headers;
  bool server_ttft = false;  // ?server_timing=1: announce the server's TTFT in the stream (http_stream.h)
};

// A validated Responses request with background: true, ready to start in the BackgroundStore.
struct BackgroundJob {
  scheduler::GenerationRequest request;
  std::unique_ptr<ResponsesEncoder> encoder;
  bool stream = false;
};

// GET /v1/models: the one served model.
HttpReply handle_models(const scheduler::ModelInfo& info, std::int64_t created);
// GET /v1/models/{id}: the model object when `id` is the served model's, else 404 model_not_found.
HttpReply handle_model(const scheduler::ModelInfo& info, std::string_view id, std::int64_t created);
// GET /health: 200 {"status":"ok"} when ready, 503 {"status":"loading"|"draining"} otherwise.
HttpReply handle_health(Health health);
// POST /tokenize {"prompt"|"content": str, "add_special_tokens": bool=true, "parse_special": bool=true}
//   or {"messages": [chat messages]} (the ids chat completions give the conversation: the model's
//   chat template, Engine::tokenize_chat) → {"tokens": [...], "count": n, "max_model_len": ctx}.
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

// POST /v1/messages (Anthropic) up to submit; `message_id` is "msg_…", `request_id` "req_…".
std::variant<GenerationJob, ApiError> prepare_messages(const scheduler::Engine& engine, std::string_view body,
                                                       std::string message_id, std::string request_id);
// POST /v1/messages/count_tokens → {"input_tokens": n}.
std::variant<HttpReply, ApiError> handle_count_tokens(const scheduler::Engine& engine, std::string_view body);

// POST /v1/responses up to submit: a GenerationJob, or a BackgroundJob with background: true.
std::variant<GenerationJob, BackgroundJob, ApiError> prepare_responses(const scheduler::Engine& engine,
                                                                       std::string_view body,
                                                                       std::string response_id,
                                                                       std::int64_t created);

}  // namespace ladle::server
