#include "server/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>

#include "server/metrics.h"
#include "server/http_stream.h"
#include "server/log_follower.h"

namespace ladle::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

}  // namespace

HttpSession::HttpSession(boost::asio::ip::tcp::socket&& socket, ServerState& state, const Router& router)
    : stream_(std::move(socket)), state_(state), router_(router) {}

void HttpSession::run() {
  boost::asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
}

void HttpSession::do_read() {
  parser_.emplace();
  parser_->body_limit(static_cast<std::uint64_t>(state_.config().max_body));
  parser_->header_limit(64 * 1024);
  stream_.expires_after(seconds(state_.config().idle_timeout));
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
}

// NOTE(server): `Expect: 100-continue`. A client that sends it (curl and many HTTP libraries do for
// larger bodies) waits for "100 Continue" before the body, and without one only gives up waiting
// after about a second, which would all go into its time to first token. So the header is read
// first: a body the header already shows to be too large is refused at once (413, no 100), and
// otherwise an expecting client gets its 100 Continue before the body is read.
void HttpSession::on_header(beast::error_code ec, std::size_t bytes) {
  if (ec || parser_->is_done()) return on_read(ec, bytes);
  const auto& req = parser_->get();
  const bool expects = req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue");
  if (!expects) return read_body();
  static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  boost::asio::async_write(stream_, boost::asio::buffer(kContinue, sizeof kContinue - 1),
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (ec) return self->do_close();
                             self->read_body();
                           });
}

void HttpSession::read_body() {
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
}

void HttpSession::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream) return do_close();
  if (ec == http::error::body_limit) {
    if (state_.metrics()) state_.metrics()->on_http_rejected("body_too_large");
    keep_alive_ = false;
    return do_write(Router::error_reply_in(Router::dialect_of(parser_->get().target()),
                                           ApiError{413, "the request body exceeds --max-body (" +
                                                             std::to_string(state_.config().max_body) + " bytes)",
                                                    "invalid_request_error", "", "body_too_large"}));
  }
  if (ec == beast::error::timeout || ec == boost::asio::error::operation_aborted || ec == boost::asio::error::eof ||
      ec == boost::asio::error::connection_reset)
    return do_close();
  if (ec) {  // a malformed request: answer once, then close (the stream cannot be re-synchronised)
    if (state_.metrics()) state_.metrics()->on_http_rejected("invalid");
    keep_alive_ = false;
    return do_write(error_reply(ApiError{400, "malformed HTTP request: " + ec.message(), "invalid_request_error", "", ""}));
  }
  const auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  if (req.method() == http::verb::options && !state_.config().allowed_origin.empty())
    return do_write(router_.preflight(req.target(), req[http::field::access_control_request_headers]));
  RouteResult result = router_.route(RouteRequest{req.method(), req.target(), req.body(),
                                                   req[http::field::authorization], req["x-api-key"],
                                                   req["last-event-id"]});
  if (auto* reply = std::get_if<HttpReply>(&result)) return do_write(std::move(*reply));
  if (auto* follow = std::get_if<FollowJob>(&result)) return start_follow(std::move(*follow));
  start_generation(std::move(std::get<GenerationJob>(result)));
}

void HttpSession::start_generation(GenerationJob job) {
  stream_.expires_never();  // the stream enforces --stall-timeout on its own writes
  auto stream = std::make_shared<HttpStream>(
      stream_, state_, *state_.engine(), std::move(job.encoder), job.stream, keep_alive_,
      parser_->get().version() >= 11, std::move(job.headers),
      [self = shared_from_this()](std::optional<HttpReply> reply, bool close) {
        self->on_generation_done(std::move(reply), close);
      });
  generation_ = stream;
  if (auto error = stream->start(std::move(job.request))) {
    HttpReply reply = stream->error_reply(*error);
    generation_.reset();  // nothing was submitted; its callback (holding us) goes with it
    return do_write(std::move(reply));
  }
  watch();
}

void HttpSession::start_follow(FollowJob job) {
  stream_.expires_never();
  auto follower = std::make_shared<LogFollower>(stream_, state_, std::move(job.response), job.after, keep_alive_,
                                                parser_->get().version() >= 11,
                                                [self = shared_from_this()](bool close) {
                                                  self->on_generation_done(std::nullopt, close);
                                                });
  generation_ = follower;
  follower->start();
  watch();
}

void HttpSession::on_generation_done(std::optional<HttpReply> reply, bool close) {
  generation_.reset();
  if (close) return do_close();
  if (reply) return do_write(std::move(*reply));
  next_request();
}

void HttpSession::do_write(HttpReply reply) {
  response_ = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(reply.status), 11);
  auto& res = *response_;
  const bool no_content = reply.status == 204;  // no Content-Type, no Content-Length
  res.set(http::field::server, "ladle");
  if (!no_content) res.set(http::field::content_type, reply.content_type);
  if (!state_.config().allowed_origin.empty())
    res.set(http::field::access_control_allow_origin, state_.config().allowed_origin);
  for (auto& [name, value] : reply.headers) res.set(name, value);
  if (!state_.replica_id().empty()) res.set("X-Ladle-Replica", state_.replica_id());
  res.keep_alive(keep_alive_);
  res.body() = std::move(reply.body);
  if (!no_content) res.prepare_payload();
  stream_.expires_after(seconds(state_.config().stall_timeout));
  http::async_write(stream_, res, beast::bind_front_handler(&HttpSession::on_write, shared_from_this(), !keep_alive_));
}

void HttpSession::on_write(bool close, beast::error_code ec, std::size_t) {
  response_.reset();
  if (ec || close) return do_close();
  next_request();
}

// Reads while a generation runs: bytes (a pipelined next request) are kept for the next
// do_read(); EOF or an error means the client is gone.
void HttpSession::watch() {
  watching_ = true;
  stream_.socket().async_read_some(buffer_.prepare(16 * 1024),
                                   beast::bind_front_handler(&HttpSession::on_watch, shared_from_this()));
}

void HttpSession::on_watch(beast::error_code ec, std::size_t bytes) {
  watching_ = false;
  if (!ec) buffer_.commit(bytes);
  if (generation_) {
    if (ec) return generation_->client_gone();
    // NOTE(server): past this much pipelined data we stop reading (and so stop noticing a
    // disconnect) rather than buffer without bound; the stall timeout still applies.
    if (buffer_.size() < static_cast<std::size_t>(state_.config().max_body) + 64 * 1024) watch();
    return;
  }
  if (ec && ec != boost::asio::error::operation_aborted) keep_alive_ = false;
  if (!read_after_watch_) return;  // a reply write is in flight; on_write continues
  read_after_watch_ = false;
  if (!keep_alive_) return do_close();
  do_read();
}

void HttpSession::next_request() {
  if (!keep_alive_) return do_close();
  if (watching_) {
    read_after_watch_ = true;  // on_watch continues with do_read()
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // the next request may already be in buffer_ (pipelining)
    return;
  }
  do_read();
}

void HttpSession::do_close() {
  beast::error_code ec;
  stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  stream_.close();
}

}  // namespace ladle::server
