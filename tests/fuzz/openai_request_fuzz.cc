// Fuzz target: parse_completion_request (server/openai_request.h) on both endpoints. The first byte
// picks the endpoint, the rest is the POST body.
//
// Checks: no crash or sanitizer report; a refusal is a 4xx ApiError with a message whose
// error_json() is valid JSON; an accepted request has a prompt (text or ids), valid sampling
// parameters, and a completion never carries a chat prompt's template.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "model/utf8.h"
#include "server/openai_encoder.h"
#include "server/openai_request.h"

using namespace ladle;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto endpoint = (data[0] & 1) ? server::Endpoint::kChat : server::Endpoint::kCompletions;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parsed = server::parse_completion_request(body, endpoint);
  if (auto* e = std::get_if<server::ApiError>(&parsed)) {
    if (e->status < 400 || e->status > 499 || e->message.empty()) std::abort();
    auto j = nlohmann::json::parse(server::error_json(*e), nullptr, false);
    if (j.is_discarded() || !j.contains("error")) std::abort();
    return 0;
  }
  const auto& req = std::get<server::CompletionRequest>(parsed);
  if (req.endpoint != endpoint) std::abort();
  if (!req.params.validate().ok()) std::abort();
  if (!model::is_valid_utf8(req.prompt)) std::abort();
  if (req.prompt_tokens && endpoint == server::Endpoint::kChat) std::abort();
  if (endpoint == server::Endpoint::kChat && req.messages.empty()) std::abort();
  for (const auto& m : req.messages)
    if (!model::is_valid_utf8(m.text)) std::abort();
  return 0;
}
