// gguf_weights: the tensors of a llama or qwen2 GGUF file as model::Weights, under llama.cpp's
// names (token_embd, blk.N.attn_norm / attn_q / attn_k / attn_v / attn_output / ffn_norm /
// ffn_gate / ffn_down / ffn_up, the attn_q / attn_k / attn_v biases when config.qkv_bias,
// output_norm, output; rope_freqs is the config's). A free function; any thread.
//
// NOTE(gguf): no permutation of attn_q / attn_k rows. llama.cpp's "llama" graph rotates adjacent
// pairs (LLAMA_ROPE_TYPE_NORM), as llama2.c and ladle do; the permutation in llama.cpp's Hugging
// Face converter only undoes Hugging Face's half-split layout on the way in, so a GGUF file already
// holds rows in the order ladle computes with (and ladle's export-gguf writes them unpermuted).
// "qwen2" files keep Hugging Face's order, which its NEOX RoPE (config.rope_style kHalves) reads.
#pragma once

#include <memory>

#include "kvcache/expected.h"
#include "model/config.h"
#include "model/gguf_file.h"
#include "model/weights.h"

namespace ladle::model {

// Weights over `file`'s tensors for `config` (from llama_config_from_gguf). F32 tensors are used
// in place, in the mapping (4-byte aligned there: every tensor starts on the file's alignment);
// matmul matrices and token embeddings of every other type stay in the mapping as blocks
// (Matrix::ggml, Views::token_embedding_ggml): convert() packs Q8_0 / Q4_0 blocks directly at q8
// and widens one matrix at a time otherwise (ggml_dequantize.h; at q8 then quantized as a
// checkpoint's); at native, matmul reads Q4_K / Q6_K blocks where they lie (model/matmul_ggml.h), Weights::embedding_row() widens one row; the small non-F32 rest (norms, biases)
// is widened to fp32 at load into one owned buffer. Refuses,
// naming the tensor: a missing one, one whose shape disagrees with the hyperparameters, a type
// ladle cannot read, and a tensor the llama model does not have.
// NOTE(gguf): memory. The 110M shape as a Q8_0 file (llama-quantize) with --weights q8 holds its
// q8 panels (116 MB) and the file's embedding blocks (26 MB): 1.3 bytes per weight (peak RSS 241
// MB); before, every tensor was widened to fp32 beside the packed copy (f16: peak 871 MB).
Expected<Weights> llama_weights_from_gguf(std::shared_ptr<const GgufFile> file, const ModelConfig& config);

}  // namespace ladle::model
