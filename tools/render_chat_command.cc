// `ladle render-chat`: prints the prompt a Jinja chat template makes of a conversation, exactly
// the text the server would tokenize. The reference test (tests/chat_templates) compares it with
// Python jinja2's rendering of the same template.
#include <cstdio>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/gguf_file.h"
#include "model/jinja/jinja_chat_template.h"
#include "model/jinja/json_value.h"
#include "scheduler/flag_set.h"
#include "tools/commands.h"

namespace ladle::tools {
namespace {

// The text of the special token `key` (tokenizer.ggml.bos_token_id, ...) of a GGUF, "" when absent.
std::string special_token(const model::GgufFile& gguf, std::string_view key) {
  auto id = gguf.get_uint(key);
  const model::GgufValue* tokens = gguf.find("tokenizer.ggml.tokens");
  if (!id || !tokens || *id >= tokens->strings.size()) return "";
  return std::string(tokens->strings[*id]);
}

bool read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  return true;
}

}  // namespace

int run_render_chat(std::span<const std::string> args) {
  std::string template_path, model_path, messages_json, messages_path, tools_json, bos, eos, date;
  bool no_generation_prompt = false;
  bool continue_final = false;
  FlagSet flags("ladle render-chat (-m FILE.gguf | --template FILE.jinja) (--messages JSON | --messages-file FILE) "
                "[options]",
                "Renders a conversation with a Jinja chat template (as transformers' apply_chat_template\n"
                "does) and prints the prompt, without a trailing newline.");
  flags.add("-m,--model", &model_path, "a GGUF file: its tokenizer.chat_template, and its BOS/EOS token texts");
  flags.add("--template", &template_path, "the chat template (.jinja); overrides the GGUF's");
  flags.add("--messages", &messages_json, "the conversation: a JSON array of {\"role\", \"content\", ...}");
  flags.add("--messages-file", &messages_path, "the conversation from a JSON file instead");
  flags.add("--tools", &tools_json, "tools: a JSON array of function schemas (default: none)");
  flags.add("--no-generation-prompt", &no_generation_prompt, "add_generation_prompt = false");
  flags.add("--continue-final-message", &continue_final,
            "leave the last message open for the model to continue (transformers' continue_final_message; "
            "role and content only)");
  flags.add("--bos", &bos, "the bos_token text (default: the GGUF's BOS token, else empty)");
  flags.add("--eos", &eos, "the eos_token text (default: the GGUF's EOS token, else empty)");
  flags.add("--date", &date, "pin strftime_now() to this day, YYYY-MM-DD (default: today, local time)");
  if (auto st = flags.parse(args); !st.ok()) {
    std::fprintf(stderr, "ladle render-chat: %s\n\n%s", st.error().message.c_str(), flags.help().c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.help().c_str());
    return 0;
  }
  if ((template_path.empty() && model_path.empty()) || (messages_json.empty() == messages_path.empty())) {
    std::fprintf(stderr, "ladle render-chat: -m or --template, and one of --messages / --messages-file, are required\n");
    return 2;
  }
  std::string source;
  std::string origin = template_path;
  if (!model_path.empty()) {
    auto gguf = model::GgufFile::open(model_path);
    if (!gguf) {
      std::fprintf(stderr, "ladle render-chat: %s\n", gguf.error().message.c_str());
      return 1;
    }
    if (!flags.was_set("--bos")) bos = special_token(*gguf, "tokenizer.ggml.bos_token_id");
    if (!flags.was_set("--eos")) eos = special_token(*gguf, "tokenizer.ggml.eos_token_id");
    if (template_path.empty()) {
      auto t = gguf->get_string("tokenizer.chat_template");
      if (!t) {
        std::fprintf(stderr, "ladle render-chat: %s has no tokenizer.chat_template (give one with --template)\n",
                     model_path.c_str());
        return 1;
      }
      source = std::string(*t);
      origin = model_path;
    }
  }
  if (!template_path.empty() && !read_file(template_path, &source)) {
    std::fprintf(stderr, "ladle render-chat: cannot read %s\n", template_path.c_str());
    return 1;
  }
  if (!messages_path.empty() && !read_file(messages_path, &messages_json)) {
    std::fprintf(stderr, "ladle render-chat: cannot read %s\n", messages_path.c_str());
    return 1;
  }
  auto json = nlohmann::ordered_json::parse(messages_json, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_array()) {
    std::fprintf(stderr, "ladle render-chat: --messages must be a JSON array of messages\n");
    return 2;
  }
  jinja::ValueDict extra;
  if (!tools_json.empty()) {
    auto tools = nlohmann::ordered_json::parse(tools_json, nullptr, /*allow_exceptions=*/false);
    if (tools.is_discarded() || !tools.is_array()) {
      std::fprintf(stderr, "ladle render-chat: --tools must be a JSON array\n");
      return 2;
    }
    extra.set("tools", jinja::value_from_json(tools));
  }
  jinja::JinjaChatTemplate::Clock clock;
  if (!date.empty()) {
    std::tm tm{};
    if (std::sscanf(date.c_str(), "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
      std::fprintf(stderr, "ladle render-chat: --date wants YYYY-MM-DD\n");
      return 2;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    std::time_t t = timegm(&tm);  // normalises tm_wday and tm_yday
    gmtime_r(&t, &tm);
    clock = [tm] { return tm; };
  }
  auto chat = jinja::JinjaChatTemplate::load(source, bos, eos, clock);
  if (!chat) {
    std::fprintf(stderr, "ladle render-chat: %s: %s\n", origin.c_str(), chat.error().message.c_str());
    return 1;
  }
  Expected<std::string> prompt = std::string();
  if (continue_final) {
    std::vector<jinja::ChatTurn> turns;
    for (const auto& m : json) {
      if (!m.is_object() || !m.value("role", nlohmann::ordered_json()).is_string() ||
          !m.value("content", nlohmann::ordered_json()).is_string()) {
        std::fprintf(stderr, "ladle render-chat: --continue-final-message takes messages of role and content strings\n");
        return 2;
      }
      turns.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    }
    prompt = chat->render_continuing(turns);
  } else {
    prompt = chat->render(jinja::value_from_json(json), !no_generation_prompt, extra);
  }
  if (!prompt) {
    std::fprintf(stderr, "ladle render-chat: %s\n", prompt.error().message.c_str());
    return 1;
  }
  std::fwrite(prompt->data(), 1, prompt->size(), stdout);
  return 0;
}

}  // namespace ladle::tools
