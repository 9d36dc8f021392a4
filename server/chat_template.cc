#include "server/chat_template.h"

namespace ladle::server {
namespace {

const char* label(ChatRole role) {
  switch (role) {
    case ChatRole::kSystem: return "System";
    case ChatRole::kUser: return "User";
    case ChatRole::kAssistant: break;
  }
  return "Assistant";
}

}  // namespace

std::string render_chat(std::span<const ChatMessage> messages, bool continue_last) {
  std::string out;
  const bool prefill = continue_last && !messages.empty() && messages.back().role == ChatRole::kAssistant;
  const std::size_t whole = prefill ? messages.size() - 1 : messages.size();
  for (std::size_t i = 0; i < whole; ++i) {
    out += label(messages[i].role);
    out += ": ";
    out += messages[i].text;
    out += '\n';
  }
  out += "Assistant:";
  if (prefill) {
    out += ' ';
    out += messages.back().text;
  }
  return out;
}

}  // namespace ladle::server
