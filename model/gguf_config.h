// gguf_config: the hyperparameters of a llama- or qwen2-architecture GGUF file as a ModelConfig, refusing
// what ladle's transformer cannot run rather than running it wrong. A free function; any thread.
#pragma once

#include "kvcache/expected.h"
#include "model/config.h"
#include "model/gguf_file.h"

namespace ladle::model {

// Reads general.architecture (must be "llama" or "qwen2", the prefix <a> of the keys below) and
// <a>.embedding_length, feed_forward_length, block_count, attention.head_count,
// attention.head_count_kv (default: head_count), context_length, attention.layer_norm_rms_epsilon,
// rope.freq_base (default 10000) and rope.dimension_count (default: the head size); the vocabulary
// size is token_embd.weight's row count (<a>.vocab_size, when present, must agree), and the
// classifier is shared when the file has no output.weight. RoPE: adjacent pairs for "llama",
// halves for "qwen2" (llama.cpp's rope type of each); linear scaling from rope.scaling.type/factor
// as llama.cpp reads them; Llama 3.1's per-pair factors from the rope_freqs.weight tensor. Q/K/V
// biases when the layers have attn_q/k/v.bias tensors (all of them). Refuses, naming the key: a
// missing or mistyped key, another architecture, RoPE over part of the head, YaRN or LongRoPE
// scaling, per-layer head counts, experts (MoE), key/value head sizes other than embedding_length /
// head_count, biases in some layers only, and a shape ModelConfig::validate() refuses.
Expected<ModelConfig> llama_config_from_gguf(const GgufFile& file);

}  // namespace ladle::model
