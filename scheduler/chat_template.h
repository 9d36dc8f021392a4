// ChatTemplate: how a conversation becomes the text of a model's prompt. Every dialect (OpenAI
// chat, Anthropic Messages, Responses, the realtime WebSocket) hands the engine ChatMessages and
// the engine renders them here, so they all prompt the model the same way.
//
// - A model with a Jinja chat template (a GGUF's tokenizer.chat_template, or --chat-template FILE)
//   renders with it (model/jinja/jinja_chat_template.h: as transformers' apply_chat_template, with
//   add_generation_prompt; bos_token/eos_token are the tokenizer's). A template the interpreter
//   cannot run is refused when it is loaded, naming the construct and its line.
// - Models without one (all llama2.c checkpoints) keep the plain template:
//     every message → "<Role>: <text>\n"   Role ∈ {System, User, Assistant}
//     then "Assistant:" so the model answers as the assistant.
// With `continue_last` and the assistant's message last (Anthropic's prefill), that message is left
// open for the model to continue: the plain template ends with its text after "Assistant: ", a
// Jinja one renders as transformers' continue_final_message.
//
// Thread-safety: immutable after construction; render() may run on any number of threads at once.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kvcache/expected.h"
#include "model/jinja/jinja_chat_template.h"
#include "scheduler/chat_message.h"

namespace ladle::scheduler {

// The plain template of llama2.c checkpoints (above).
std::string render_plain_chat(std::span<const ChatMessage> messages, bool continue_last = false);

class ChatTemplate;

// The template a model is served with: the Jinja file `path` when given (--chat-template), else
// `model_source` (a GGUF's tokenizer.chat_template) when not empty, else the plain template.
// `bos_text`/`eos_text` are the tokenizer's. Sets `origin` to "plain", "gguf" or `path`. Errors
// (kInvalidArgument) name the file, or `model_path`'s tokenizer.chat_template, and the problem.
Expected<ChatTemplate> select_chat_template(const std::string& path, const std::string& model_source,
                                            const std::string& model_path, std::string bos_text, std::string eos_text,
                                            std::string& origin);

class ChatTemplate {
 public:
  // The plain template.
  ChatTemplate() = default;
  // A Jinja template; `bos_text`/`eos_text` are what it knows as bos_token/eos_token. Errors
  // (kInvalidArgument) name the unsupported construct and its line.
  static Expected<ChatTemplate> jinja(std::string_view source, std::string bos_text, std::string eos_text);

  // The prompt text of `messages`, ending where the assistant's answer begins (or inside the last
  // assistant message, see the header). A Jinja template refusing the conversation (its
  // raise_exception: "System role not supported", ...) is kInvalidArgument with its message.
  Expected<std::string> render(std::span<const ChatMessage> messages, bool continue_last) const;

  bool is_jinja() const { return jinja_.has_value(); }
  // The texts of bos_token / eos_token ("" for the plain template).
  const std::string& bos_text() const { return bos_; }
  const std::string& eos_text() const { return eos_; }

 private:
  std::optional<jinja::JinjaChatTemplate> jinja_;
  std::string bos_, eos_;
};

}  // namespace ladle::scheduler
