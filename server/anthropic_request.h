// Anthropic Messages requests (POST /v1/messages and /v1/messages/count_tokens): a JSON body →
// AnthropicRequest, validated. Pure functions, no I/O and no engine. (The replies are
// anthropic_encoder.h's.)
//
// - messages: user/assistant turns; content a string or text blocks (cache_control accepted: the
//   prefix cache is automatic). A last assistant turn is a prefill the model continues.
// - system: a string or text blocks. A block that begins with "x-anthropic-billing-header" (sent
//   per request by a popular coding tool, different every time) is dropped before tokenizing, so
//   that it cannot defeat the prefix cache.
// - Fields ladle does not implement (tools, thinking, images, documents, ...) are refused by name;
//   unknown fields too ("Extra inputs are not permitted", as Anthropic's API says).
//
// Thread-safety: stateless; call from anywhere.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include <vector>

#include "scheduler/chat_message.h"
#include "scheduler/sampling_params.h"
#include "server/api_error.h"

namespace ladle::server {

struct AnthropicRequest {
  std::string model;
  // The conversation, for the engine's chat template (a last assistant message is continued).
  std::vector<scheduler::ChatMessage> messages;
  scheduler::SamplingParams params;
  bool stream = false;
  int priority = 0;  // vLLM's extension: lower runs first among interactive requests (README)
};

// POST /v1/messages. max_tokens is required.
std::variant<AnthropicRequest, ApiError> parse_messages_request(std::string_view body);
// POST /v1/messages/count_tokens: the same conversation fields, without max_tokens or sampling.
std::variant<AnthropicRequest, ApiError> parse_count_tokens_request(std::string_view body);

}  // namespace ladle::server
