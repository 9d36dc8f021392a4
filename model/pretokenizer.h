// pretokenizer: the word splitting a byte-level BPE tokenizer does before its merges, one kind per
// GGUF `tokenizer.ggml.pre`, splitting exactly as llama.cpp does (its hand-written matchers of the
// GPT-2, Llama 3 and Qwen 2 regexes, and its chain of regexes for "default"), so that the merges
// then give llama.cpp's ids.
//
//   gpt2    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   llama3  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
//           |\s*[\r\n]+|\s+(?!\S)|\s+
//   qwen2   as llama3 with \p{N} (one digit per word)
//   default [\p{P}\$\+<=>\^~\|]+ first, then gpt2 within each piece, then \p{N}+, then
//           [0-9][0-9][0-9]: each regex splits every piece of the previous one into its matches and
//           the gaps between them
//
// Free functions over immutable data: any thread.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace ladle::model {

enum class PreTokenizer { kDefault, kGpt2, kLlama3, kQwen2 };

// The pre-tokenizer a GGUF's tokenizer.ggml.pre names: "default", "gpt-2", "llama-bpe" (also
// "llama3", "llama-v3"), "qwen2" (also "deepseek-r1-qwen"); nullopt for any other name.
std::optional<PreTokenizer> pretokenizer_from_name(std::string_view name);
const char* pretokenizer_name(PreTokenizer kind);

// Splits `text` into words, appended to `words` as views into `text` that cover it in order
// (their concatenation is `text`; none is empty). Codepoints are classified by unicode_class.h;
// an ill-formed UTF-8 byte counts as one U+FFFD (a symbol) but stays itself in the word, so that
// no byte is lost (llama.cpp turns it into the three bytes of U+FFFD; the engine refuses invalid
// UTF-8 before it gets here).
void pretokenize(PreTokenizer kind, std::string_view text, std::vector<std::string_view>& words);

}  // namespace ladle::model
