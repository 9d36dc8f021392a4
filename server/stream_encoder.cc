#include "server/stream_encoder.h"

namespace ladle::server {

bool finish_failed(const scheduler::Finish& finish) {
  return finish.reason == scheduler::FinishReason::kError || finish.reason == scheduler::FinishReason::kCancelled;
}

ApiError finish_error(const scheduler::Finish& finish) {
  if (finish.reason == scheduler::FinishReason::kCancelled)
    return ApiError{503, "the request was cancelled", "unavailable_error", "", ""};
  return ApiError{500, finish.error_message, "server_error", "", ""};
}

}  // namespace ladle::server
