// OpenAI-compatible request bodies and response chunks, as seen by a benchmark client.
//
// Pure functions, any thread. They speak the dialect shared by ladle, llama.cpp's llama-server
// and vLLM: /v1/completions (`choices[0].text`) and /v1/chat/completions
// (`choices[0].delta.content`, or `message.content` when not streamed), a final usage chunk when
// `stream_options.include_usage` is set, and errors as `{"error": {...}}` objects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"

namespace ladle::loadgen {

enum class ApiEndpoint { kCompletions, kChat };

// Parses "completions" / "/v1/completions" / "chat" / "/v1/chat/completions".
Expected<ApiEndpoint> parse_endpoint(std::string_view text);
// The path under the base URL: "/v1/completions" or "/v1/chat/completions".
std::string_view endpoint_path(ApiEndpoint endpoint);

struct CompletionRequest {
  ApiEndpoint endpoint = ApiEndpoint::kCompletions;
  std::string model;
  std::string prompt;
  int max_tokens = 128;
  bool stream = true;
  bool ignore_eos = false;
  std::optional<std::uint64_t> seed;
  double temperature = 0.0;
  std::vector<std::string> stop;  // sent as "stop" when not empty
};

// The JSON body. Streamed requests ask for the usage chunk (stream_options.include_usage).
std::string build_request_body(const CompletionRequest& request);

// What one streamed chunk (or one whole non-streamed response) says.
struct ChunkInfo {
  std::string content;                      // generated text in this chunk ("" if none)
  std::optional<int> completion_tokens;     // from "usage", when present
  std::optional<int> prompt_tokens;         // from "usage", when present
  std::optional<std::string> finish_reason; // choices[0].finish_reason when not null
  std::optional<std::string> error;         // the server reported an error in-band
};

// Parses one `data:` payload (not "[DONE]") or a whole non-streamed response body. Fails only
// when `json` is not a JSON object. Tries scan_chunk (chunk_scanner.h) first and falls back to
// parse_chunk_document when it declines.
Expected<ChunkInfo> parse_chunk(std::string_view json, ApiEndpoint endpoint);
// The same, always through a full JSON document (the reference the scanner is tested against).
Expected<ChunkInfo> parse_chunk_document(std::string_view json, ApiEndpoint endpoint);

// The model id list from GET /v1/models ({"data": [{"id": ...}, ...]}); the first id, if any.
Expected<std::string> first_model_id(std::string_view models_json);

}  // namespace ladle::loadgen
