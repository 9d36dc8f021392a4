#include "server/sse_stream.h"

#include <boost/asio/write.hpp>

#include "server/metrics.h"
#include "server/sse_format.h"

namespace ladle::server {
namespace {

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

SseStream::SseStream(boost::beast::tcp_stream& socket, ServerState& state, scheduler::Engine& engine,
                     ResponseContext context, bool stream, bool keep_alive, bool http11, Done done)
    : socket_(socket), state_(state), engine_(engine), context_(std::move(context)), stream_(stream),
      keep_alive_(keep_alive && (http11 || !stream)), chunked_(http11), done_(std::move(done)),
      chunks_(context_, http11), ping_timer_(socket.get_executor()), stall_timer_(socket.get_executor()) {}

std::optional<ApiError> SseStream::start(scheduler::GenerationRequest request) {
  std::weak_ptr<SseStream> weak = weak_from_this();
  mailbox_ = std::make_shared<Mailbox>(
      socket_.get_executor(),
      [weak] {
        if (auto self = weak.lock()) self->pump();
      },
      state_.wake_queue());
  auto id = engine_.submit(std::move(request), mailbox_);
  if (!id) return api_error_from(id.error(), "prompt");
  id_ = *id;
  state_.generation_started();
  if (stream_) {
    do_write(sse_response_head(keep_alive_, chunked_, state_.config().allowed_origin));
    arm_ping();
  }
  return std::nullopt;
}

void SseStream::client_gone() {
  if (ended_) return;
  if (!finish_written_) {
    engine_.cancel(id_);
    if (state_.metrics()) state_.metrics()->on_client_disconnect();
  }
  end(std::nullopt, /*close=*/true);
}

// Takes whatever the engine delivered and writes it as one write (or, for stream=false, waits
// for the finish). Runs after every mailbox wake-up and after every completed write.
void SseStream::pump() {
  if (ended_ || !writing_.empty() || finish_written_) return;
  mailbox_->take(batch_);
  if (!stream_) {
    text_ += batch_.text;
    if (!batch_.finish) return;
    const auto& f = *batch_.finish;
    if (f.reason == scheduler::FinishReason::kError || f.reason == scheduler::FinishReason::kCancelled) {
      bool cancelled = f.reason == scheduler::FinishReason::kCancelled;
      ApiError e{cancelled ? 503 : 500, cancelled ? "the request was cancelled" : f.error_message,
                 cancelled ? "unavailable_error" : "server_error", "", ""};
      return end(error_reply(e), false);
    }
    return end(json_reply(200, full_response_json(context_, text_, f)), false);
  }
  outbox_.clear();
  format_batch(batch_);
  if (outbox_.empty()) return;
  writing_.swap(outbox_);
  start_write();
}

void SseStream::format_batch(const Mailbox::Batch& batch) {
  if (!batch.text.empty()) {
    chunks_.append_chunk(outbox_, batch.text, first_delta_);
    first_delta_ = false;
  }
  if (batch.finish) {
    outbox_ += format_finish(*batch.finish);
    finish_written_ = true;
  }
}

std::string SseStream::format_finish(const scheduler::Finish& f) {
  std::string events;
  if (f.reason == scheduler::FinishReason::kError || f.reason == scheduler::FinishReason::kCancelled) {
    bool cancelled = f.reason == scheduler::FinishReason::kCancelled;
    ApiError e{cancelled ? 503 : 500, cancelled ? "the request was cancelled" : f.error_message,
               cancelled ? "unavailable_error" : "server_error", "", ""};
    events += sse_event(error_json(e));
  } else {
    if (first_delta_ && context_.endpoint == Endpoint::kChat)  // the role arrives even with no text
      events += sse_event(delta_chunk_json(context_, "", true));
    events += sse_event(finish_chunk_json(context_, f.reason));
    if (context_.include_usage) events += sse_event(usage_chunk_json(context_, f.usage));
  }
  events += sse_done();
  return body_piece(events, chunked_) + std::string(body_end(chunked_));
}

void SseStream::do_write(std::string_view bytes) {
  writing_.assign(bytes);
  start_write();
}

void SseStream::start_write() {
  sent_since_ping_ = true;
  write_started_ = std::chrono::steady_clock::now();
  if (!stall_armed_) arm_stall_check(write_started_ + seconds(state_.config().stall_timeout));
  boost::asio::async_write(socket_, boost::asio::buffer(writing_),
                           [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
                             self->on_write(ec);
                           });
}

void SseStream::on_write(boost::beast::error_code ec) {
  writing_.clear();
  if (ended_) return;
  if (ec) return client_gone();
  if (finish_written_) return end(std::nullopt, !keep_alive_);
  pump();
}

void SseStream::arm_stall_check(std::chrono::steady_clock::time_point at) {
  stall_armed_ = true;
  stall_timer_.expires_at(at);
  stall_timer_.async_wait([self = shared_from_this()](boost::beast::error_code ec) {
    self->stall_armed_ = false;
    if (!ec) self->on_stall_check();
  });
}

// NOTE(server): the timer is not re-armed per write (that was a timer-queue insert and cancel per
// event). When it fires, the write in flight, if any, is judged by its own start time: stalled →
// cut; younger → wait again until exactly its deadline; none → disarm until the next write. So a
// write is still cut stall_timeout after it started, as before.
void SseStream::on_stall_check() {
  if (ended_ || writing_.empty()) return;
  const auto deadline = write_started_ + seconds(state_.config().stall_timeout);
  if (std::chrono::steady_clock::now() < deadline) return arm_stall_check(deadline);
  socket_.close();  // fails the write (and the session's read) → client_gone → cancel
}

void SseStream::arm_ping() {
  ping_timer_.expires_after(seconds(state_.config().ping_interval));
  ping_timer_.async_wait([self = shared_from_this()](boost::beast::error_code ec) {
    if (ec || self->ended_ || self->finish_written_) return;
    if (!self->sent_since_ping_ && self->writing_.empty()) self->do_write(body_piece(sse_comment("ping"), self->chunked_));
    self->sent_since_ping_ = false;
    self->arm_ping();
  });
}

void SseStream::end(std::optional<HttpReply> reply, bool close) {
  if (ended_) return;
  ended_ = true;
  ping_timer_.cancel();
  stall_timer_.cancel();
  state_.generation_ended();
  Done done = std::move(done_);
  done_ = nullptr;
  done(std::move(reply), close);
}

}  // namespace ladle::server
