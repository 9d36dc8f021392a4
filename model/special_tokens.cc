// SpecialTokens: llama.cpp's special-token partition (see special_tokens.h).
#include "model/special_tokens.h"

#include <algorithm>

namespace ladle::model {

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
