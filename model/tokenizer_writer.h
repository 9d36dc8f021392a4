// Writers for llama2.c tokenizer.bin files: write_tokenizer() for any piece list, and
// write_synthetic_tokenizer() for a deterministic English-flavoured BPE vocabulary of any size, so
// that `ladle make-model` can pair every synthetic checkpoint with a tokenizer without downloads.
//
// Free functions, no shared state: any thread may call them (each writes only its own file).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "kvcache/expected.h"

namespace ladle::model {

// Writes `pieces` with `scores` (same length) in tokenizer.bin format; max_token_length is the
// longest piece. Fails on mismatched lengths or an I/O error.
Status write_tokenizer(const std::string& path, std::span<const std::string> pieces,
                       std::span<const float> scores);

// The pieces of the synthetic vocabulary of `vocab_size` (>= 259) entries: 0 "<unk>",
// 1 "\n<s>\n", 2 "\n</s>\n", 3..258 "<0x00>".."<0xFF>", then the printable ASCII characters, then
// merges in priority order: " "+letter, the spelled-out build-up of common English words (" t",
// " th", " the", ...), then systematic letter n-grams until the vocabulary is full. Every merge is
// the concatenation of an earlier piece and a single character, and no piece repeats. Scores
// follow llama2.c's exporter: 0 for ids below 259, -(id-259) above. Fails when vocab_size < 259 or
// is so large that the n-gram enumeration runs out (beyond several million).
Expected<std::vector<std::string>> synthetic_tokenizer_pieces(int vocab_size);

// synthetic_tokenizer_pieces() with their scores, written to `path`.
Status write_synthetic_tokenizer(const std::string& path, int vocab_size);

}  // namespace ladle::model
