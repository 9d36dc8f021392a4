// TokenSink: where the engine delivers one request's output. Implemented by the server's SSE
// stream (and by tools/generate for stdout).
//
// Thread: every call comes from the engine's step thread. Implementations must not block: they
// copy or merge the text and hand it to their own executor. The engine holds only a weak_ptr to a
// sink; when lock() fails the request is cancelled.
#pragma once

#include <string>
#include <string_view>

namespace ladle::scheduler {

enum class FinishReason { kStop, kLength, kCancelled, kError };

// "stop", "length", "cancelled", "error".
const char* to_string(FinishReason reason);

struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
};

struct Finish {
  FinishReason reason = FinishReason::kStop;
  Usage usage;
  std::string error_message;  // set when reason == kError
};

class TokenSink {
 public:
  virtual ~TokenSink() = default;

  // New text of the request: whole UTF-8 characters only, with any text that might still become
  // a stop string held back. `num_tokens` is how many generated tokens this delta completes (text
  // of a token can be delayed, so a delta may cover several tokens, or a token may carry no text
  // yet and be reported with the next delta).
  virtual void on_delta(std::string_view text, int num_tokens) = 0;

  // The last call for this request. Any text still deliverable was sent by on_delta before it.
  virtual void on_finish(const Finish& finish) = 0;
};

}  // namespace ladle::scheduler
