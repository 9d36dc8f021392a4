// The client side of `GET /v1/realtime` (a text subset of the OpenAI Realtime API, GA event names):
// one JSON client event → ClientEvent, validated. Pure functions, no I/O.
//
// Client events: session.update {session: {instructions, temperature, max_output_tokens}},
// conversation.item.create {previous_item_id?, item: {id?, type: "message", role: user | system |
// assistant, content: [{type: input_text | text | output_text, text}]}}, response.create
// {response?: {instructions, temperature, max_output_tokens}}, response.cancel,
// conversation.item.delete {item_id}. max_output_tokens is an integer in [1, 4096] or "inf".
//
// Thread-safety: stateless.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "scheduler/chat_message.h"

namespace ladle::server {

using scheduler::ChatMessage;
using scheduler::ChatRole;

// Settings a session.update sets for the session, or a response.create for one response.
struct RealtimeSettings {
  std::optional<std::string> instructions;
  std::optional<float> temperature;
  std::optional<int> max_output_tokens;  // 0: "inf"
};

struct ClientEvent {
  enum class Type { kSessionUpdate, kItemCreate, kItemDelete, kResponseCreate, kResponseCancel };
  Type type = Type::kSessionUpdate;
  std::string event_id;  // the client's, echoed in errors about it
  RealtimeSettings settings;
  // conversation.item.create
  ChatMessage message;
  std::string item_id;           // also conversation.item.delete's
  std::string previous_item_id;  // empty: append
};

// What is wrong with a client event: the `error` event's code and message (and the client's
// event_id when it had one).
struct ProtocolError {
  std::string code;  // e.g. invalid_json, unknown_event, missing_field, invalid_value
  std::string message;
  std::string event_id;
  std::string param;
};

std::variant<ClientEvent, ProtocolError> parse_client_event(std::string_view text);

}  // namespace ladle::server
