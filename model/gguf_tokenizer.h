// gguf_tokenizer: the tokenizer a GGUF file carries in its tokenizer.ggml.* metadata, so that a
// GGUF model needs no separate tokenizer file. Free functions; any thread.
//
// tokenizer.ggml.model names the kind: "llama" (SentencePiece with byte fallback: Llama 1/2,
// llama2.c's stories, Mistral) is read here; any other kind ("gpt2" byte-level BPE, ...) is refused
// by name until ladle implements it.
#pragma once

#include "kvcache/expected.h"
#include "model/gguf_file.h"
#include "model/tokenizer.h"

namespace ladle::model {

// The tokenizer of `file`, whose vocabulary must hold exactly `vocab_size` tokens (the model's
// embedding rows). Errors (kInvalidArgument) name the file and the key.
Expected<Tokenizer> tokenizer_from_gguf(const GgufFile& file, int vocab_size);

// tokenizer.ggml.model = "llama": tokens (strings, "▁" for a space), scores (f32) and token_type
// (i32: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte; all normal when absent),
// bos/eos_token_id (default 1/2), add_space_prefix (default true). The result encodes like ladle's
// tokenizer.bin path on the same vocabulary (llama2.c's tokenizer.py wrote "▁" as " "), except that
// control, unknown, unused and byte pieces are never produced from text, as in SentencePiece.
// add_bos_token/add_eos_token and the end-of-turn tokens are the AnyTokenizer's
// (any_tokenizer.h: load_gguf_tokenizer).
Expected<Tokenizer> llama_sentencepiece_tokenizer(const GgufFile& file, int vocab_size);

}  // namespace ladle::model
