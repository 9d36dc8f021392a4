#include "bench/loadgen/stream_call.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <string_view>

namespace ladle::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
constexpr std::size_t kMaxErrorBody = 2000;
}  // namespace

StreamCall::StreamCall(asio::io_context& ioc, CallOptions options, RequestSample sample, Done done)
    : options_(std::move(options)),
      stream_(ioc.get_executor()),
      drop_timer_(stream_.get_executor()),
      done_(std::move(done)) {
  result_.sample = std::move(sample);
}

std::shared_ptr<StreamCall> StreamCall::start(asio::io_context& ioc,
                                              const asio::ip::tcp::resolver::results_type& endpoints,
                                              CallOptions options, RequestSample sample, Done done) {
  auto call = std::make_shared<StreamCall>(ioc, std::move(options), std::move(sample), std::move(done));
  asio::post(call->stream_.get_executor(), [call, endpoints] { call->do_connect(endpoints); });
  return call;
}

void StreamCall::drop() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close_for_drop(); });
}

void StreamCall::do_connect(const asio::ip::tcp::resolver::results_type& endpoints) {
  connect_start_ = Clock::now();
  deadline_ = connect_start_ + options_.timeout;
  stream_.expires_at(deadline_);
  stream_.async_connect(endpoints, [self = shared_from_this()](beast::error_code ec, const auto&) {
    self->on_connect(ec);
  });
}

void StreamCall::on_connect(beast::error_code ec) {
  if (finished_local_) return;
  if (ec) return fail("connect: " + ec.message());
  result_.sample.connect_ms = ms_between(connect_start_, Clock::now());
  stream_.socket().set_option(asio::ip::tcp::no_delay(true));
  request_ = {http::verb::post, options_.target, 11};
  request_.set(http::field::host, options_.host);
  request_.set(http::field::user_agent, "ladle-bench");
  request_.set(http::field::content_type, "application/json");
  request_.set(http::field::accept, options_.stream ? "text/event-stream" : "application/json");
  request_.body() = options_.body;
  request_.prepare_payload();
  stream_.expires_at(deadline_);
  http::async_write(stream_, request_, beast::bind_front_handler(&StreamCall::on_write, shared_from_this()));
}

void StreamCall::on_write(beast::error_code ec, std::size_t) {
  if (finished_local_) return;
  if (ec) return fail("write: " + ec.message());
  result_.sent_at = Clock::now();
  result_.sample.start_s = std::chrono::duration<double>(result_.sent_at - options_.run_start).count();
  if (options_.drop_after) {
    drop_timer_.expires_after(*options_.drop_after);
    drop_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->close_for_drop();
    });
  }
  do_read_header();
}

void StreamCall::do_read_header() {
  parser_.emplace();
  // NOTE(loadgen): a large number, not boost::none: Boost 1.74 compares Content-Length against an
  // empty optional as "exceeded". Streams are bounded by the deadline anyway.
  parser_->body_limit(std::uint64_t{1} << 32);
  stream_.expires_at(deadline_);
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&StreamCall::on_read_header, shared_from_this()));
}

void StreamCall::on_read_header(beast::error_code ec, std::size_t) {
  if (finished_local_) return;
  if (ec) return fail("read header: " + ec.message());
  result_.sample.http_status = static_cast<int>(parser_->get().result_int());
  do_read_body();
}

void StreamCall::do_read_body() {
  if (parser_->is_done()) return finish();
  parser_->get().body().data = body_buf_;
  parser_->get().body().size = sizeof body_buf_;
  stream_.expires_at(deadline_);
  // NOTE(loadgen): read_some, not read: it completes as soon as any body bytes were parsed, so
  // every event is timestamped when its bytes arrive rather than when a buffer fills.
  http::async_read_some(stream_, buffer_, *parser_,
                        beast::bind_front_handler(&StreamCall::on_read_body, shared_from_this()));
}

void StreamCall::on_read_body(beast::error_code ec, std::size_t) {
  if (finished_local_) return;
  Clock::time_point now = Clock::now();
  if (ec == http::error::need_buffer) ec = {};
  std::size_t n = sizeof body_buf_ - parser_->get().body().size;
  if (n > 0) on_bytes(std::string_view(body_buf_, n), now);
  if (finished_local_) return;  // a drop point was reached inside on_bytes
  if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == asio::error::eof)
    return fail("truncated stream (" + ec.message() + ")");
  if (ec) return fail("read body: " + ec.message());
  do_read_body();
}

void StreamCall::on_bytes(std::string_view bytes, Clock::time_point now) {
  bool success = result_.sample.http_status == 200;
  if (!options_.stream || !success) {
    if (success || plain_body_.size() < kMaxErrorBody) plain_body_.append(bytes);
    return;
  }
  events_.clear();
  sse_.feed(bytes, events_);
  for (const auto& e : events_) {
    on_event(e, now);
    if (finished_local_) return;
  }
}

void StreamCall::on_event(const SseEvent& event, Clock::time_point now) {
  if (event.is_comment) {
    // ladle's `: server-ttft-ms 12.345` (?server_timing=1), just before the first text.
    constexpr std::string_view kServerTtft = "server-ttft-ms ";
    if (event.data.starts_with(kServerTtft)) {
      const char* begin = event.data.c_str() + kServerTtft.size();
      char* end = nullptr;
      double v = std::strtod(begin, &end);
      if (end != begin && v >= 0) result_.sample.server_ttft_ms = v;
    }
    return;
  }
  if (event.data == "[DONE]") {
    saw_done_ = true;
    return;
  }
  auto chunk = parse_chunk(event.data, options_.endpoint);
  RequestSample& s = result_.sample;
  if (!chunk) {
    if (s.error.empty()) s.error = chunk.error().message;
    return;
  }
  if (chunk->error && s.error.empty()) s.error = "error event: " + *chunk->error;
  if (chunk->completion_tokens) {
    s.usage_reported = true;
    s.output_tokens = *chunk->completion_tokens;
  }
  if (chunk->prompt_tokens) s.prompt_tokens = *chunk->prompt_tokens;
  if (chunk->content.empty()) return;
  if (!last_content_) s.ttft_ms = ms_between(result_.sent_at, now);
  else s.itl_ms.push_back(ms_between(*last_content_, now));
  last_content_ = now;
  int events = ++s.content_events;
  content_events_.store(events);
  if (options_.drop_after_events && events >= *options_.drop_after_events) close_for_drop();
}

void StreamCall::close_for_drop() {
  if (finished_local_) return;
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  result_.closed_at = Clock::now();
  result_.saw_content_before_close = result_.sample.content_events > 0;
  result_.sample.dropped = true;
  result_.sample.error = "dropped by the client";
  finish();
}

void StreamCall::fail(std::string what) {
  if (finished_local_) return;
  if (result_.sample.error.empty()) result_.sample.error = std::move(what);
  finish();
}

void StreamCall::finish() {
  if (finished_local_) return;
  finished_local_ = true;
  drop_timer_.cancel();
  RequestSample& s = result_.sample;
  Clock::time_point end = s.dropped ? result_.closed_at : Clock::now();
  if (result_.sent_at != Clock::time_point{}) s.e2e_ms = ms_between(result_.sent_at, end);
  if (s.error.empty() && s.http_status != 200) {
    s.error = "HTTP " + std::to_string(s.http_status) + ": " + plain_body_.substr(0, 300);
  } else if (s.error.empty() && !options_.stream) {
    auto whole = parse_chunk(plain_body_, options_.endpoint);
    if (!whole) s.error = whole.error().message;
    else if (whole->error) s.error = "error: " + *whole->error;
    else {
      s.content_events = whole->content.empty() ? 0 : 1;
      s.usage_reported = whole->completion_tokens.has_value();
      s.output_tokens = whole->completion_tokens.value_or(s.content_events);
      s.prompt_tokens = whole->prompt_tokens.value_or(0);
      s.ttft_ms = s.e2e_ms;
    }
  } else if (s.error.empty() && (!saw_done_ || sse_.has_partial())) {
    s.error = "truncated stream (no [DONE])";
  }
  if (!s.usage_reported && s.output_tokens == 0) s.output_tokens = s.content_events;
  s.ok = s.error.empty();
  if (!s.ok && s.error.empty()) s.error = "unknown";
  beast::error_code ignored;
  stream_.socket().close(ignored);
  finished_.store(true);
  if (done_) {
    auto done = std::move(done_);
    done(std::move(result_));
  }
}

}  // namespace ladle::loadgen
