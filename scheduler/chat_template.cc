// ChatTemplate: the plain template or a Jinja one (see chat_template.h).
#include "scheduler/chat_template.h"

#include <vector>

namespace ladle::scheduler {
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

std::string render_plain_chat(std::span<const ChatMessage> messages, bool continue_last) {
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

Expected<ChatTemplate> ChatTemplate::jinja(std::string_view source, std::string bos_text, std::string eos_text) {
  auto t = jinja::JinjaChatTemplate::load(source, bos_text, eos_text);
  if (!t) return t.error();
  ChatTemplate c;
  c.jinja_.emplace(std::move(*t));
  c.bos_ = std::move(bos_text);
  c.eos_ = std::move(eos_text);
  return c;
}

Expected<std::string> ChatTemplate::render(std::span<const ChatMessage> messages, bool continue_last) const {
  if (!jinja_) return render_plain_chat(messages, continue_last);
  std::vector<jinja::ChatTurn> turns;
  turns.reserve(messages.size());
  for (const ChatMessage& m : messages) turns.push_back({role_name(m.role), m.text});
  if (continue_last && !messages.empty() && messages.back().role == ChatRole::kAssistant)
    return jinja_->render_continuing(turns);
  return jinja_->render(turns, /*add_generation_prompt=*/true);
}

}  // namespace ladle::scheduler
