// SpecialTokens: llama.cpp's "partition" of a text around the special tokens spelled in it, done
// before any tokenizer sees the text (llama-vocab.cpp tokenizer_st_partition): control, user-defined
// and unknown tokens, longest text first, each cutting every occurrence out of the text fragments
// still unclaimed. Control and unknown tokens take part only when special tokens are parsed;
// user-defined ones always do. Shared by the byte-level BPE and the GGUF SentencePiece paths.
//
// Immutable after construction; any thread.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/ids.h"

namespace ladle::model {

// Texts llama.cpp takes for end-of-turn tokens (llama-vocab.cpp's EOT and EOG lists), in the order
// EOT is picked when the file names none, and for the other end-of-generation tokens.
std::span<const std::string_view> end_of_turn_texts();
std::span<const std::string_view> end_of_generation_texts();

class SpecialTokens {
 public:
  struct Token {
    TokenId id;
    std::string text;
    bool always;  // user-defined: matched even when special tokens are not parsed
  };
  // A piece of the text: raw text for the tokenizer, or a special token (text empty).
  struct Fragment {
    std::string_view text;
    std::optional<TokenId> token;
  };

  SpecialTokens() = default;
  // Orders `tokens` by text length, longest first (ties by id; llama.cpp's sort leaves them in an
  // unspecified order). Empty texts are dropped.
  explicit SpecialTokens(std::vector<Token> tokens);

  // `text` cut into fragments (views into `text`), in order; none of the raw ones is empty.
  std::vector<Fragment> split(std::string_view text, bool parse_special) const;

  bool empty() const { return tokens_.empty(); }

 private:
  std::vector<Token> tokens_;
};

}  // namespace ladle::model
