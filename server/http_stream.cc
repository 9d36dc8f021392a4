#include "server/http_stream.h"

#include <cstdio>

#include "server/metrics.h"

namespace ladle::server {

HttpStream::HttpStream(boost::beast::tcp_stream& socket, ServerState& state, scheduler::Engine& engine,
                       std::unique_ptr<StreamEncoder> encoder, bool stream, bool keep_alive, bool http11,
                       std::vector<std::pair<std::string, std::string>> headers, Done done)
    : SseWriter(socket, state, http11),
      encoder_(std::move(encoder)),
      generation_(engine),
      stream_(stream),
      keep_alive_(keep_alive && (http11 || !stream)),
      headers_(std::move(headers)),
      done_(std::move(done)) {}

std::optional<ApiError> HttpStream::start(scheduler::GenerationRequest request) {
  std::weak_ptr<SseWriter> weak = weak_from_this();
  auto wake = [weak] {
    if (auto self = weak.lock()) static_cast<HttpStream&>(*self).pump();
  };
  submitted_at_ = std::chrono::steady_clock::now();
  // Counted before the engine has it: a drain starting on another I/O thread in between would see
  // nothing in flight and stop the server under a live request.
  state_.generation_started();
  if (auto error = generation_.submit(std::move(request), socket_.get_executor(), wake, state_.wake_queue())) {
    state_.generation_ended();
    return error;
  }
  if (stream_) {
    std::string head;
    for (const auto& [name, value] : headers_) head += name + ": " + value + "\r\n";
    queue_head(keep_alive_, head);
    encoder_->accepted(*this);
    flush();
    start_pings();
  }
  return std::nullopt;
}

void HttpStream::client_gone() {
  if (ended_) return;
  if (!generation_.finished()) {
    generation_.cancel();
    if (state_.metrics()) state_.metrics()->on_client_disconnect();
  }
  end(std::nullopt, /*close=*/true);
}

// Takes whatever the engine delivered and writes it as one write (or, for stream=false, waits
// for the finish). Runs after every mailbox wake-up and after every completed write.
void HttpStream::pump() {
  if (ended_ || write_in_flight() || ended_body()) return;
  const Generation::Update u = generation_.take();
  if (!stream_) {
    if (u.admitted) output_.cached_prompt_tokens = *u.admitted;
    if (u.prompt_logprobs) output_.prompt_logprobs = *u.prompt_logprobs;
    output_.text += u.text;
    output_.logprobs.insert(output_.logprobs.end(), u.logprobs.begin(), u.logprobs.end());
    if (!u.finish) return;
    if (finish_failed(*u.finish)) return end(error_reply(finish_error(*u.finish)), false);
    return end(with_headers(encoder_->reply(output_, *u.finish)), false);
  }
  if (u.admitted) encoder_->admitted(*u.admitted, *this);
  if (u.prompt_logprobs) encoder_->prompt_logprobs(*u.prompt_logprobs);
  if (!u.text.empty()) {
    if (announce_ttft_ && !sent_text_) {
      sent_text_ = true;
      char note[48];
      std::snprintf(note, sizeof note, "server-ttft-ms %.3f",
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - submitted_at_).count());
      comment(note);
    }
    encoder_->delta(u.text, u.logprobs, *this);
  }
  if (u.finish) {
    if (finish_failed(*u.finish)) encoder_->fail(finish_error(*u.finish), *this);
    else encoder_->finish(*u.finish, *this);
    queue_end();
  }
  flush();
}

HttpReply HttpStream::with_headers(HttpReply reply) const {
  reply.headers.insert(reply.headers.end(), headers_.begin(), headers_.end());
  return reply;
}

void HttpStream::end(std::optional<HttpReply> reply, bool close) {
  if (ended_) return;
  ended_ = true;
  stop_timers();
  state_.generation_ended();
  Done done = std::move(done_);
  done_ = nullptr;
  done(std::move(reply), close);
}

}  // namespace ladle::server
