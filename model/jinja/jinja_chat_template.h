// JinjaChatTemplate: a model's Jinja chat template (the GGUF's tokenizer.chat_template, or a
// --chat-template file) turning a conversation into the prompt text the model was trained on,
// rendered as transformers' apply_chat_template renders it: variables messages, bos_token,
// eos_token, add_generation_prompt, tools = documents = None; globals raise_exception() and
// strftime_now() (its clock injectable so tests pin the date).
//
// load() parses the template and renders a one-message conversation as a probe: a template this
// interpreter cannot run is a load error naming the construct and line, never a wrong prompt
// later. render() errors are the template refusing a conversation (Gemma's "System role not
// supported", Mistral's alternation check): the caller's bad input, kInvalidArgument.
//
// Thread-safety: immutable after load(); render() may run on any number of threads at once.
#pragma once

#include <ctime>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "kvcache/expected.h"
#include "model/jinja/template.h"

namespace ladle::jinja {

struct ChatTurn {
  std::string role;  // "system", "user", "assistant", ...
  std::string content;
};

class JinjaChatTemplate {
 public:
  // The wall-clock time strftime_now() formats (default: local time now, as datetime.now()).
  using Clock = std::function<std::tm()>;

  static Expected<JinjaChatTemplate> load(std::string_view source, std::string bos_token, std::string eos_token,
                                          Clock clock = {});

  Expected<std::string> render(std::span<const ChatTurn> messages, bool add_generation_prompt) const;
  // The prompt with the last message left open for the model to continue (an assistant's
  // prefill, Anthropic-style), as transformers' continue_final_message: rendered without the
  // generation prompt, with a marker after the last message's content, and cut at the marker
  // (and the whitespace before it when the template trimmed the content).
  Expected<std::string> render_continuing(std::span<const ChatTurn> messages) const;
  // `messages` as a list of dicts, for messages with more than role and content (tool calls);
  // `extra` adds or overrides variables (tools: a list of function schemas; a template's own
  // switches such as enable_thinking).
  Expected<std::string> render(const Value& messages, bool add_generation_prompt,
                               const ValueDict& extra = {}) const;

 private:
  JinjaChatTemplate(Template t, std::string bos, std::string eos, Clock clock)
      : template_(std::move(t)), bos_(std::move(bos)), eos_(std::move(eos)), clock_(std::move(clock)) {}

  Template template_;
  std::string bos_;
  std::string eos_;
  Clock clock_;
};

}  // namespace ladle::jinja
