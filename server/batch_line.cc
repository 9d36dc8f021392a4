#include "server/batch_line.h"

namespace ladle::server {

std::optional<ApiError> BatchLine::start(scheduler::GenerationRequest request, std::shared_ptr<WakeQueue> queue) {
  std::weak_ptr<BatchLine> weak = weak_from_this();
  auto wake = [weak] {
    if (auto self = weak.lock()) self->pump();
  };
  return generation_.submit(std::move(request), strand_, wake, std::move(queue));
}

// As HttpStream::pump with stream=false: gather everything, reply once at the finish.
void BatchLine::pump() {
  if (!done_) return;
  const Generation::Update u = generation_.take();
  if (u.admitted) output_.cached_prompt_tokens = *u.admitted;
  if (u.prompt_logprobs) output_.prompt_logprobs = *u.prompt_logprobs;
  output_.text += u.text;
  output_.logprobs.insert(output_.logprobs.end(), u.logprobs.begin(), u.logprobs.end());
  if (!u.finish) return;
  HttpReply reply = finish_failed(*u.finish) ? encoder_->error(finish_error(*u.finish)) : encoder_->reply(output_, *u.finish);
  Done done = std::move(done_);
  done_ = nullptr;
  done(*this, std::move(reply), *u.finish);
}

}  // namespace ladle::server
