// ChatTemplate: the plain template or a Jinja one (see chat_template.h).
#include "scheduler/chat_template.h"

#include <fstream>
#include <sstream>
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

Expected<ChatTemplate> select_chat_template(const std::string& path, const std::string& model_source,
                                            const std::string& model_path, std::string bos_text, std::string eos_text,
                                            std::string& origin) {
  std::string source = model_source;
  origin = source.empty() ? "plain" : "gguf";
  if (!path.empty()) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in || in.bad()) return make_error(ErrorCode::kInvalidArgument, "--chat-template " + path + ": cannot read the file");
    source = text.str();
    origin = path;
  }
  if (source.empty()) return ChatTemplate();
  auto chat = ChatTemplate::jinja(source, std::move(bos_text), std::move(eos_text));
  if (!chat)
    return make_error(ErrorCode::kInvalidArgument,
                      "the chat template of " + (path.empty() ? model_path + " (tokenizer.chat_template)" : path) +
                          " cannot be used: " + chat.error().message);
  return chat;
}

}  // namespace ladle::scheduler
