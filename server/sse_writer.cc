#include "server/sse_writer.h"

#include <charconv>
#include <cstring>

#include <boost/asio/write.hpp>

#include "server/sse_format.h"

namespace ladle::server {
namespace {

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

SseWriter::SseWriter(boost::beast::tcp_stream& socket, ServerState& state, bool chunked)
    : socket_(socket), state_(state), chunked_(chunked), ping_timer_(socket.get_executor()),
      stall_timer_(socket.get_executor()) {}

void SseWriter::queue_head(bool keep_alive, std::string_view extra_headers) {
  std::string head = sse_response_head(keep_alive, chunked_, state_.config().allowed_origin);
  if (!state_.replica_id().empty()) head.insert(head.size() - 2, "X-Ladle-Replica: " + state_.replica_id() + "\r\n");
  head.insert(head.size() - 2, extra_headers);  // before the blank line
  outbox_ += head;
}

// One event: [event: T\n][id: N\n]data: D\n\n, written straight into the outbox (its chunk size
// is known up front). Encoders' data is one line of JSON; anything else goes through sse_event(),
// which splits lines.
// NOTE(server): two memchr scans, not data.find_first_of("\r\n"): libstdc++ runs that as one
// memchr over the two-character set per byte of data, which alone took ~2 % of the I/O thread's
// samples at 32 streams (perf, bench/http_overhead.sh's closed loop).
void SseWriter::event(std::string_view type, std::string_view data, std::int64_t id) {
  if (std::memchr(data.data(), '\n', data.size()) != nullptr || std::memchr(data.data(), '\r', data.size()) != nullptr)
    return append_piece(sse_event(data));
  char id_line[32] = "id: ";
  std::size_t id_len = 0;
  if (id >= 0) {
    char* end = std::to_chars(id_line + 4, id_line + sizeof id_line - 1, id).ptr;
    *end++ = '\n';
    id_len = static_cast<std::size_t>(end - id_line);
  }
  const std::size_t size = (type.empty() ? 0 : type.size() + 8) + id_len + data.size() + 8;
  if (chunked_) append_chunk_size(size);
  if (!type.empty()) {
    outbox_ += "event: ";
    outbox_ += type;
    outbox_ += '\n';
  }
  outbox_.append(id_line, id_len);
  outbox_ += "data: ";
  outbox_ += data;
  outbox_ += "\n\n";
  if (chunked_) outbox_ += "\r\n";
}

void SseWriter::comment(std::string_view text) { append_piece(sse_comment(text)); }

void SseWriter::append_piece(std::string_view payload) {
  if (!chunked_) {
    outbox_ += payload;
    return;
  }
  append_chunk_size(payload.size());
  outbox_ += payload;
  outbox_ += "\r\n";
}

void SseWriter::append_chunk_size(std::size_t size) {
  char line[24];
  char* end = std::to_chars(line, line + sizeof line - 2, size, 16).ptr;
  *end++ = '\r';
  *end++ = '\n';
  outbox_.append(line, static_cast<std::size_t>(end - line));
}

void SseWriter::queue_end() {
  outbox_ += body_end(chunked_);
  end_queued_ = true;
}

void SseWriter::flush() {
  if (stopped_ || !writing_.empty() || outbox_.empty()) return;
  writing_.swap(outbox_);
  outbox_.clear();
  sent_since_ping_ = true;
  write_started_ = std::chrono::steady_clock::now();
  if (!stall_armed_) arm_stall_check(write_started_ + seconds(state_.config().stall_timeout));
  const bool last = end_queued_ && outbox_.empty();
  boost::asio::async_write(socket_, boost::asio::buffer(writing_),
                           [self = shared_from_this(), last](boost::beast::error_code ec, std::size_t) {
                             self->writing_.clear();
                             if (self->stopped_) return;
                             if (ec) return self->on_write_failed();
                             if (last) return self->on_body_written();
                             self->on_write(ec);
                           });
}

void SseWriter::on_write(boost::beast::error_code) {
  on_idle();
  flush();
}

void SseWriter::arm_stall_check(std::chrono::steady_clock::time_point at) {
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
// write is still cut stall_timeout after it started.
void SseWriter::on_stall_check() {
  if (stopped_ || writing_.empty()) return;
  const auto deadline = write_started_ + seconds(state_.config().stall_timeout);
  if (std::chrono::steady_clock::now() < deadline) return arm_stall_check(deadline);
  socket_.close();  // fails the write (and the session's read) → on_write_failed
}

void SseWriter::start_pings() { arm_ping(); }

void SseWriter::arm_ping() {
  ping_timer_.expires_after(seconds(state_.config().ping_interval));
  ping_timer_.async_wait([self = shared_from_this()](boost::beast::error_code ec) {
    if (ec || self->stopped_ || self->end_queued_) return;
    if (!self->sent_since_ping_ && self->writing_.empty()) {
      self->on_ping();
      self->flush();
    }
    self->sent_since_ping_ = false;
    self->arm_ping();
  });
}

void SseWriter::stop_timers() {
  stopped_ = true;
  ping_timer_.cancel();
  stall_timer_.cancel();
}

}  // namespace ladle::server
