// Fuzz target: the chat templates' Jinja interpreter (model/jinja/), on templates as a model file
// could carry them. The input is the template; a conversation with a system message, two user
// turns, an assistant turn with a tool call and a tool result, and a tools list, is rendered.
//
// Checks: no crash, hang or sanitizer report (deep nesting, recursion, loops, growth and overflow
// are bounded errors); a template either fails to load with a message naming a line, or renders,
// and rendering twice gives the same text (no state leaks from one render to the next).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "model/jinja/jinja_chat_template.h"
#include "model/jinja/json_value.h"

using namespace ladle;

namespace {

const jinja::Value& messages() {
  static const jinja::Value* v = new jinja::Value(jinja::value_from_json(nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "Be brief. 你好"},
    {"role": "user", "content": "  What is the weather? 🌦 "},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "call12345", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}}]},
    {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp\": 21.5}"},
    {"role": "user", "content": "Thanks"}])")));
  return *v;
}

const jinja::ValueDict& extra() {
  static const jinja::ValueDict* d = [] {
    auto* out = new jinja::ValueDict();
    out->set("tools", jinja::value_from_json(nlohmann::ordered_json::parse(
                          R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])")));
    return out;
  }();
  return *d;
}

std::tm fixed_day() {
  std::tm tm{};
  tm.tm_year = 125;
  tm.tm_mon = 2;
  tm.tm_mday = 9;
  return tm;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto t = jinja::JinjaChatTemplate::load(source, "<s>", "</s>", fixed_day);
  if (!t) {
    if (t.error().message.empty()) std::abort();
    return 0;
  }
  auto first = t->render(messages(), true, extra());
  auto second = t->render(messages(), true, extra());
  if (first.ok() != second.ok()) std::abort();
  if (first.ok() && *first != *second) std::abort();
  return 0;
}
