// Fuzz target: the request parsers of the other dialects — Anthropic Messages (create and
// count_tokens), OpenAI Responses — and the /v1/realtime client-event parser. The first byte picks
// the parser, the rest is the body (or the WebSocket message).
//
// Checks: no crash or sanitizer report; a refusal is a 4xx with a message (and renders in its
// dialect's error shape as valid JSON); an accepted request has valid sampling parameters and a
// valid UTF-8 prompt that ends as the chat template ends a prompt.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "model/utf8.h"
#include "scheduler/chat_template.h"
#include "server/anthropic_encoder.h"
#include "server/anthropic_request.h"
#include "server/openai_encoder.h"
#include "server/realtime_protocol.h"
#include "server/responses_request.h"

using namespace ladle;

namespace {

void check_refusal(const server::ApiError& e, bool anthropic) {
  if (e.status < 400 || e.status > 499 || e.message.empty()) std::abort();
  const std::string body = anthropic ? server::anthropic_error_json(e, "req_1") : server::error_json(e);
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) std::abort();
}

void check_prompt(const std::vector<scheduler::ChatMessage>& messages, const scheduler::SamplingParams& params) {
  if (!params.validate().ok()) std::abort();
  if (messages.empty()) std::abort();
  for (const auto& m : messages)
    if (!model::is_valid_utf8(m.text)) std::abort();
  if (!model::is_valid_utf8(scheduler::render_plain_chat(messages, true))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
    case 1: {
      auto parsed = data[0] % 4 == 0 ? server::parse_messages_request(body) : server::parse_count_tokens_request(body);
      if (auto* e = std::get_if<server::ApiError>(&parsed)) return check_refusal(*e, true), 0;
      const auto& r = std::get<server::AnthropicRequest>(parsed);
      check_prompt(r.messages, data[0] % 4 == 0 ? r.params : scheduler::SamplingParams{});
      break;
    }
    case 2: {
      auto parsed = server::parse_responses_request(body);
      if (auto* e = std::get_if<server::ApiError>(&parsed)) return check_refusal(*e, false), 0;
      const auto& r = std::get<server::ResponsesRequest>(parsed);
      check_prompt(r.messages, r.params);
      if (r.background && !r.store) std::abort();
      break;
    }
    default: {
      auto parsed = server::parse_client_event(body);
      if (auto* e = std::get_if<server::ProtocolError>(&parsed)) {
        if (e->code.empty() || e->message.empty()) std::abort();
        break;
      }
      const auto& ev = std::get<server::ClientEvent>(parsed);
      if (!model::is_valid_utf8(ev.message.text)) std::abort();
      if (ev.settings.max_output_tokens && (*ev.settings.max_output_tokens < 0 || *ev.settings.max_output_tokens > 4096))
        std::abort();
    }
  }
  return 0;
}
