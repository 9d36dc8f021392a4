// OpenAI completions and chat completions requests: a JSON body → CompletionRequest, validated.
// Pure functions, no I/O and no engine. (The replies are openai_encoder.h's.)
//
// Chat messages are kept as ChatMessages for the engine's chat template (Engine::tokenize_chat);
// content may be a string or an array of {"type":"text","text":...} parts, which are
// concatenated; "developer" is a system message.
//
// Thread-safety: stateless; call from anywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "scheduler/chat_message.h"
#include "scheduler/sampling_params.h"
#include "server/api_error.h"

namespace ladle::server {

enum class Endpoint { kCompletions, kChat };

struct CompletionRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string prompt;  // the completion prompt (/v1/completions)
  std::vector<scheduler::ChatMessage> messages;  // the conversation (/v1/chat/completions)
  // /v1/completions only: a prompt given as token ids (used as they are, no BOS added); `prompt`
  // is then empty. Ids are checked against the vocabulary by prepare_generation.
  std::optional<std::vector<std::int32_t>> prompt_tokens;
  scheduler::SamplingParams params;  // params.logprobs: completions' `logprobs`, chat's `top_logprobs`
  bool max_tokens_given = false;  // chat without a limit runs to the context length
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // /v1/completions: the reply starts with the prompt (and, with logprobs, lists the prompt's
  // tokens too: params.prompt_logprobs).
  bool echo = false;
  int priority = 0;  // vLLM's extension: lower runs first among interactive requests (README)
};

// Parses and validates a POST body for `endpoint`. Every type error, out-of-range value, missing
// prompt/messages, unknown role, n != 1 and malformed JSON (invalid UTF-8 included) is an
// ApiError naming the parameter. So is a field the endpoint does not know (as OpenAI's API
// refuses it), and a field of OpenAI's API that ladle does not implement (penalties, tools, ...)
// set to anything but its neutral value.
std::variant<CompletionRequest, ApiError> parse_completion_request(std::string_view body,
                                                                   Endpoint endpoint);

// Chat completions' `messages` (a non-empty array of {role, content}) appended to `out`, or the
// ApiError naming what is wrong; also POST /tokenize's.
std::optional<ApiError> read_chat_messages(const nlohmann::json& messages, std::vector<scheduler::ChatMessage>& out);

}  // namespace ladle::server
