// A batch's input: which endpoints a batch may target, how one line's body becomes a generation
// (the SAME parser and encoder as the live endpoint, so a line's result body is exactly what a
// direct, non-streamed call returns), and the validation of a whole input file:
//   every line is a JSON object with a unique non-empty string `custom_id`, `method` "POST",
//   `url` equal to the batch's endpoint and a `body` the endpoint accepts (not streamed, not a
//   background response); at most --max-body bytes per line and kMaxBatchLines lines.
// Errors carry their 1-based line numbers, as OpenAI's batch `errors.data[]` do.
//
// Thread-safety: pure functions over a thread-safe Engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/batch_store.h"
#include "server/handlers.h"

namespace ladle::server {

enum class BatchEndpoint { kCompletions, kChat, kResponses, kMessages };

inline constexpr int kMaxBatchLines = 50000;     // OpenAI's own limit per batch
inline constexpr int kMaxBatchErrorsListed = 100;  // errors.data keeps the first ones

// "/v1/completions", "/v1/chat/completions", "/v1/responses", "/v1/messages"; nullopt otherwise.
std::optional<BatchEndpoint> batch_endpoint_from(std::string_view url);

// The ids one line's run uses: the response's own id, the request id of the output line, and
// the `created` time.
struct LineIds {
  std::string response_id;
  std::string request_id;
  std::int64_t created = 0;
};
// The id prefix of the endpoint's responses ("cmpl-", "chatcmpl-", "resp_", "msg_").
std::string_view response_id_prefix(BatchEndpoint endpoint);

// `body` prepared as the live endpoint prepares it, as a batch-class request; a 400 when the
// endpoint refuses it, or when it asks for a stream or a background response.
std::variant<GenerationJob, ApiError> prepare_batch_line(const scheduler::Engine& engine, BatchEndpoint endpoint,
                                                         std::string_view body, LineIds ids);

struct ValidatedInput {
  std::vector<BatchLineInput> lines;
  nlohmann::json errors = nlohmann::json::array();  // [{code, message, param, line}], at most kMaxBatchErrorsListed
  int num_errors = 0;                               // all of them
};
// Checks every line of `content` for `endpoint` (see the header comment). Blank lines are
// skipped; a file with no request is an error.
ValidatedInput validate_batch_input(const scheduler::Engine& engine, std::string_view content, std::string_view url,
                                    std::size_t max_line_bytes);

}  // namespace ladle::server
