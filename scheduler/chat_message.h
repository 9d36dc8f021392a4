// ChatMessage: one turn of a conversation, as every dialect's request parser (OpenAI chat,
// Anthropic Messages, Responses, the realtime WebSocket) hands it to the engine, which renders the
// model's chat template over the turns (Engine::tokenize_chat, scheduler/chat_template.h).
// Plain data; any thread.
#pragma once

#include <string>

namespace ladle::scheduler {

enum class ChatRole { kSystem, kUser, kAssistant };

struct ChatMessage {
  ChatRole role = ChatRole::kUser;
  std::string text;
};

// The role as chat templates spell it: "system", "user" or "assistant".
inline const char* role_name(ChatRole role) {
  switch (role) {
    case ChatRole::kSystem: return "system";
    case ChatRole::kUser: return "user";
    case ChatRole::kAssistant: break;
  }
  return "assistant";
}

}  // namespace ladle::scheduler
