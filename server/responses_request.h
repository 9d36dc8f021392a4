// OpenAI Responses requests (POST /v1/responses): a JSON body → ResponsesRequest, validated. Pure
// functions, no I/O and no engine. (The events and the Response object are responses_encoder.h's.)
//
// input: a string, or message items ({role, content} with content a string or input_text parts;
// role user, assistant, system or developer; assistant content may be output_text parts).
// instructions: a system message first. Text output only: tools, reasoning, previous_response_id,
// structured output and the like are refused by name unless at their neutral value.
// background requires store (as OpenAI's API does).
//
// Thread-safety: stateless; call from anywhere.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include <vector>

#include "scheduler/chat_message.h"
#include "scheduler/sampling_params.h"
#include "server/api_error.h"

namespace ladle::server {

struct ResponsesRequest {
  std::string model;
  std::vector<scheduler::ChatMessage> messages;  // the conversation, for the engine's chat template
  std::optional<std::string> instructions;
  scheduler::SamplingParams params;
  bool max_tokens_given = false;  // without max_output_tokens the context is the limit
  bool stream = false;
  bool background = false;
  bool store = true;
  nlohmann::json metadata = nlohmann::json::object();
  std::optional<std::string> user, prompt_cache_key;
  int priority = 0;  // vLLM's extension: lower runs first among interactive requests (README)
};

std::variant<ResponsesRequest, ApiError> parse_responses_request(std::string_view body);

}  // namespace ladle::server
