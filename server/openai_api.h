// The OpenAI-compatible wire format: JSON request bodies → CompletionRequest, and the response,
// chunk and error objects back to JSON text. Pure functions, no I/O and no engine.
//
// Chat template (for models without one — all llama2.c checkpoints): every message becomes
//   "<Role>: <content>\n"   with Role ∈ {System, User, Assistant} ("developer" renders as System)
// and the prompt ends with "Assistant:" so the model continues as the assistant. Content may be
// a string or an array of {"type":"text","text":...} parts, which are concatenated.
//
// Thread-safety: stateless; call from anywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "scheduler/sampling_params.h"
#include "scheduler/token_sink.h"

namespace ladle::server {

enum class Endpoint { kCompletions, kChat };

// An error in the OpenAI shape {"error":{"message","type","param","code"}} plus its HTTP status.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty → null
  std::string code;   // empty → null
};

ApiError invalid_param(std::string param, std::string message);
// Maps an engine/library error: kInvalidArgument → 400, kResourceExhausted → 429,
// kUnavailable → 503, kNotFound → 404, kInternal → 500.
ApiError api_error_from(const Error& error, std::string param = "");
// {"error":{...}} as compact JSON.
std::string error_json(const ApiError& error);

struct CompletionRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string prompt;  // the completion prompt, or the chat messages rendered by the template
  // /v1/completions only: a prompt given as token ids (used as they are, no BOS added); `prompt`
  // is then empty. Ids are checked against the vocabulary by prepare_generation.
  std::optional<std::vector<std::int32_t>> prompt_tokens;
  scheduler::SamplingParams params;
  bool max_tokens_given = false;  // chat without a limit runs to the context length
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// Parses and validates a POST body for `endpoint`. Every type error, out-of-range value, missing
// prompt/messages, unknown role, n != 1 and malformed JSON (invalid UTF-8 included) is an
// ApiError naming the parameter. So is a field the endpoint does not know (as OpenAI's API
// refuses it), and a field of OpenAI's API that ladle does not implement (logprobs, penalties,
// tools, ...) set to anything but its neutral value.
std::variant<CompletionRequest, ApiError> parse_completion_request(std::string_view body,
                                                                   Endpoint endpoint);

// Everything a response or chunk repeats.
struct ResponseContext {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string id;     // "cmpl-…" or "chatcmpl-…"
  std::string model;
  std::int64_t created = 0;  // unix seconds
  bool include_usage = false;
};

// "stop" or "length"; cancelled/error have no OpenAI finish_reason and map to nullopt.
std::optional<std::string_view> finish_reason_name(scheduler::FinishReason reason);

// A streamed chunk with new text. `first` puts role "assistant" into the chat delta.
std::string delta_chunk_json(const ResponseContext& ctx, std::string_view text, bool first);
// The chunk that carries finish_reason (empty text / empty delta).
std::string finish_chunk_json(const ResponseContext& ctx, scheduler::FinishReason reason);
// The stream_options.include_usage chunk: "choices": [] and "usage".
std::string usage_chunk_json(const ResponseContext& ctx, const scheduler::Usage& usage);
// The whole non-streamed response, with usage.
std::string full_response_json(const ResponseContext& ctx, std::string_view text,
                               const scheduler::Finish& finish);

}  // namespace ladle::server
