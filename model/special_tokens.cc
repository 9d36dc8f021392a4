// SpecialTokens: llama.cpp's special-token partition (see special_tokens.h).
#include "model/special_tokens.h"

#include <algorithm>

namespace ladle::model {
namespace {

constexpr std::string_view kEndOfTurnTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
    "[EOT]", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "<end_of_utterance>",
};
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eom_id|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "[EOS]", "</s>", "<eos>", "<turn|>",
    "<|tool_response>", "[e~[",
};

}  // namespace

std::span<const std::string_view> end_of_turn_texts() { return kEndOfTurnTexts; }
std::span<const std::string_view> end_of_generation_texts() { return kEndOfGenerationTexts; }

SpecialTokens::SpecialTokens(std::vector<Token> tokens) {
  std::erase_if(tokens, [](const Token& t) { return t.text.empty(); });
  std::stable_sort(tokens.begin(), tokens.end(), [](const Token& a, const Token& b) {
    return a.text.size() != b.text.size() ? a.text.size() > b.text.size() : a.id < b.id;
  });
  tokens_ = std::move(tokens);
}

std::vector<SpecialTokens::Fragment> SpecialTokens::split(std::string_view text, bool parse_special) const {
  std::vector<Fragment> fragments;
  if (text.empty()) return fragments;
  fragments.push_back({text, std::nullopt});
  std::vector<Fragment> next;
  for (const Token& special : tokens_) {
    if (!parse_special && !special.always) continue;
    next.clear();
    for (const Fragment& f : fragments) {
      if (f.token) {
        next.push_back(f);
        continue;
      }
      std::size_t from = 0;
      for (std::size_t at; (at = f.text.find(special.text, from)) != std::string_view::npos; from = at + special.text.size()) {
        if (at > from) next.push_back({f.text.substr(from, at - from), std::nullopt});
        next.push_back({{}, special.id});
      }
      if (from < f.text.size()) next.push_back({f.text.substr(from), std::nullopt});
    }
    fragments.swap(next);
  }
  return fragments;
}

}  // namespace ladle::model
