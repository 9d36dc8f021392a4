#include "model/jinja/jinja_chat_template.h"

#include <vector>

#include "model/jinja/error.h"
#include "model/jinja/unicode.h"

namespace ladle::jinja {
namespace {

std::tm local_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

}  // namespace

Expected<JinjaChatTemplate> JinjaChatTemplate::load(std::string_view source, std::string bos_token,
                                                    std::string eos_token, Clock clock) {
  auto parsed = Template::parse(source);
  if (!parsed) return make_error(ErrorCode::kInvalidArgument, "chat template: " + parsed.error().message);
  JinjaChatTemplate t(std::move(*parsed), std::move(bos_token), std::move(eos_token),
                      clock ? std::move(clock) : Clock(local_now));
  const ChatTurn probe[] = {{"user", "Hello"}};
  auto rendered = t.render(probe, /*add_generation_prompt=*/true);
  if (!rendered) return make_error(ErrorCode::kInvalidArgument, rendered.error().message + " (rendering a one-message conversation at load)");
  return t;
}

Expected<std::string> JinjaChatTemplate::render(std::span<const ChatTurn> messages, bool add_generation_prompt) const {
  ValueList list;
  list.reserve(messages.size());
  for (const auto& m : messages) {
    ValueDict d;
    d.set("role", Value(m.role));
    d.set("content", Value(m.content));
    list.emplace_back(std::move(d));
  }
  return render(Value(std::move(list)), add_generation_prompt);
}

Expected<std::string> JinjaChatTemplate::render_continuing(std::span<const ChatTurn> messages) const {
  static constexpr std::string_view kTag = "CONTINUE_FINAL_MESSAGE_TAG ";  // transformers' marker
  if (messages.empty()) return make_error(ErrorCode::kInvalidArgument, "no message to continue");
  std::vector<ChatTurn> marked(messages.begin(), messages.end());
  const std::string final_text = marked.back().content;
  marked.back().content += kTag;
  auto rendered = render(marked, /*add_generation_prompt=*/false);
  if (!rendered) return rendered;
  const std::string_view tag = python_strip(kTag, true, true);
  const std::size_t at = rendered->rfind(tag);
  if (at == std::string::npos || rendered->find(python_strip(final_text, true, true)) == std::string::npos)
    return make_error(ErrorCode::kInvalidArgument,
                      "chat template: the final message does not appear in the rendered prompt, so it cannot be "
                      "continued");
  if (std::string_view(*rendered).substr(at, kTag.size()) == kTag) {
    rendered->resize(at);
  } else {  // the template trimmed the content: cut the whitespace before the marker too
    rendered->resize(python_strip(std::string_view(*rendered).substr(0, at), false, true).size());
  }
  return rendered;
}

Expected<std::string> JinjaChatTemplate::render(const Value& messages, bool add_generation_prompt,
                                                const ValueDict& extra) const {
  ValueDict vars;
  vars.set("messages", messages);
  vars.set("bos_token", Value(bos_));
  vars.set("eos_token", Value(eos_));
  vars.set("add_generation_prompt", Value(add_generation_prompt));
  vars.set("tools", Value(nullptr));
  vars.set("documents", Value(nullptr));
  vars.set("raise_exception", Value(Callable{"raise_exception", [](const CallArgs& a) -> Value {
    throw RaisedError(a.positional.empty() ? "raise_exception()" : a.positional[0].str());
  }}));
  const Clock& clock = clock_;
  vars.set("strftime_now", Value(Callable{"strftime_now", [&clock](const CallArgs& a) -> Value {
    if (a.positional.empty() || !a.positional[0].is_string()) throw TemplateError("strftime_now() needs a format string");
    std::tm tm = clock();
    char buf[256];
    std::size_t n = std::strftime(buf, sizeof buf, a.positional[0].as_string().c_str(), &tm);
    return Value(std::string(buf, n));
  }}));
  for (const auto& [k, v] : extra.entries()) vars.set(k, v);
  auto out = template_.render(vars);
  if (!out) return make_error(ErrorCode::kInvalidArgument, "chat template: " + out.error().message);
  return out;
}

}  // namespace ladle::jinja
