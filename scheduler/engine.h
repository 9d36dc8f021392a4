// Engine: the only interface the server sees. It takes requests, streams their output to
// per-request sinks and lets callers cancel them. LlmEngine (scheduler/llm_engine.h) is the real
// one; server tests may use a fake.
//
// Thread-safety: every method may be called from any thread at any time. submit() and cancel()
// never wait for the step loop: they post to an inbox the step thread drains at the top of each
// step.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kvcache/expected.h"
#include "kvcache/ids.h"
#include "scheduler/chat_message.h"
#include "scheduler/sampling_params.h"
#include "scheduler/token_sink.h"

namespace ladle::scheduler {

// Who waits for a request's tokens: a person (interactive, the default) or nobody right now (a
// line of a batch). The scheduler serves interactive requests first and preempts batch ones first.
enum class RequestClass { kInteractive, kBatch };

struct GenerationRequest {
  std::vector<TokenId> prompt_tokens;  // as returned by tokenize(); must not be empty
  SamplingParams params;
  RequestClass request_class = RequestClass::kInteractive;
  // vLLM's `priority` among requests of the same class: lower runs first; ties keep arrival order.
  int priority = 0;
};

struct ModelInfo {
  std::string name;        // file name of the checkpoint, used as the API's model id
  int vocab_size = 0;
  int context_length = 0;  // max positions per sequence
  int dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0;
  int kv_blocks_total = 0;
  int block_size = 0;
  std::optional<TokenId> bos;  // the tokenizer's BOS, if it has one
  std::string tokenizer;       // "llama" (SentencePiece) or "gpt2" (byte-level BPE)
  std::string chat_template;   // "plain" (llama2.c's), or where the Jinja one came from: "gguf", a file
  std::string isa;  // the kernels' ISA level (model/isa.h): portable, avx2 or avx512
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Queues a request. Fails at once, with nothing queued, when the prompt is empty, longer than
  // the context or than the KV cache can ever hold (kInvalidArgument), when the waiting queue is
  // full (kResourceExhausted: for a batch request, requests of both classes count; for an
  // interactive one, only interactive ones) or when the engine is stopping (kUnavailable). On success the sink
  // gets on_delta calls and exactly one on_finish, unless it expires first (then the request is
  // cancelled and the sink hears nothing more).
  virtual Expected<RequestId> submit(GenerationRequest request, std::weak_ptr<TokenSink> sink) = 0;

  // Cancels a request in any state (waiting, prefilling, decoding). Its blocks are released and it
  // leaves the batch before the next forward call; the sink, if alive, gets on_finish(kCancelled).
  // Unknown or finished ids are ignored.
  virtual void cancel(RequestId id) = 0;

  // Text → token ids under the model's tokenizer. add_special: BOS (and EOS) as the tokenizer says
  // (llama2.c's: BOS, and run.c's dummy-prefix space). parse_special: special tokens spelled in the
  // text ("<|im_start|>", "<|eot_id|>") become their ids, as llama.cpp's server and vLLM do
  // (a llama2.c vocabulary has none). Fails with kInvalidArgument on invalid UTF-8.
  virtual Expected<std::vector<TokenId>> tokenize(std::string_view text, bool add_special, bool parse_special) const = 0;
  // A conversation → its prompt's token ids: rendered by the model's chat template
  // (scheduler/chat_template.h), then tokenized with special tokens parsed and BOS as the tokenizer
  // says. With `continue_last` a last assistant message is left open for the model to continue.
  // Fails with kInvalidArgument when the template refuses the conversation (its message) or on
  // invalid UTF-8.
  virtual Expected<std::vector<TokenId>> tokenize_chat(std::span<const ChatMessage> messages,
                                                       bool continue_last) const = 0;
  // Token ids → text (byte pieces joined; invalid UTF-8 replaced by U+FFFD). Ids out of range fail.
  virtual Expected<std::string> detokenize(std::span<const TokenId> tokens) const = 0;

  // The bytes one token stands for in the vocabulary (a byte token's single byte, a piece's text
  // as stored, "" for control tokens and ids out of range), for log-probability listings. The
  // default joins detokenize() of the token alone.
  virtual std::string token_bytes(TokenId id) const {
    auto text = detokenize(std::span<const TokenId>(&id, 1));
    return text ? *text : std::string();
  }

  virtual const ModelInfo& model_info() const = 0;
};

}  // namespace ladle::scheduler
