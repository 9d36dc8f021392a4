// The chat template for models without one of their own (all llama2.c checkpoints): a
// conversation becomes plain text the model continues. Every dialect (OpenAI chat, Anthropic
// Messages, Responses) turns its messages into ChatMessages and renders them here, so they all
// prompt the model the same way.
//
//   every message → "<Role>: <text>\n"   Role ∈ {System, User, Assistant}
//   then "Assistant:" so the model answers as the assistant.
// When the last message is the assistant's and `continue_last` is set (Anthropic's prefill), its
// text ends the prompt without the newline, and the model continues it.
//
// Thread-safety: pure functions.
#pragma once

#include <span>
#include <string>

namespace ladle::server {

enum class ChatRole { kSystem, kUser, kAssistant };

struct ChatMessage {
  ChatRole role = ChatRole::kUser;
  std::string text;
};

std::string render_chat(std::span<const ChatMessage> messages, bool continue_last = false);

}  // namespace ladle::server
