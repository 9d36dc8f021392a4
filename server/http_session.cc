#include "server/http_session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "server/metrics.h"
#include "server/batch_runner.h"
#include "server/http_stream.h"
#include "server/log_follower.h"
#include "server/api_key.h"
#include "server/realtime_session.h"

namespace ladle::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

// The lingering close after an early reply (do_close): at most this long and this many bytes.
constexpr auto kLingerTime = std::chrono::seconds(5);
constexpr std::size_t kLingerBytes = 64u << 20;
constexpr std::size_t kLingerChunk = 64u << 10;

// The send queue of a connection that streams (see the header): SO_SNDBUF (the kernel doubles it)
// bounds queued bytes, TCP_NOTSENT_LOWAT the bytes not yet handed to the peer's window.
constexpr int kStreamSendBuffer = 16 * 1024;
constexpr int kStreamNotSentLowat = 4 * 1024;

void cap_send_queue(boost::asio::ip::tcp::socket& socket) {
  beast::error_code ignored;
  socket.set_option(boost::asio::socket_base::send_buffer_size(kStreamSendBuffer), ignored);
  using NotSentLowat = boost::asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>;
  socket.set_option(NotSentLowat(kStreamNotSentLowat), ignored);
}

}  // namespace

HttpSession::HttpSession(boost::asio::ip::tcp::socket&& socket, ServerState& state, const Router& router)
    : stream_(std::move(socket)), state_(state), router_(router),
      over_capacity_(state.connection_opened() > state.max_connections()) {}

HttpSession::~HttpSession() { state_.connection_closed(); }

void HttpSession::run() {
  if (over_capacity_) {
    return boost::asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->reject_early(ApiError{503, "the server has too many open connections (--max-connections " +
                                           std::to_string(self->state_.max_connections()) + ")",
                                  "unavailable_error", "", "too_many_connections"},
                         "unavailable");
    });
  }
  boost::asio::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::do_read, shared_from_this()));
}

// NOTE(server): two clocks. Waiting for a request's first byte is idleness (--idle-timeout);
// from that byte on, the request line and headers get --header-timeout in all, so a client that
// sends its headers a byte at a time is cut there, having never reached the router or the engine.
void HttpSession::do_read() {
  parser_.emplace();
  // The larger of the two limits until the target is known (on_header narrows it).
  parser_->body_limit(static_cast<std::uint64_t>(std::max(state_.config().max_body, state_.config().max_upload_body())));
  parser_->header_limit(static_cast<std::uint32_t>(state_.config().max_header_bytes));
  if (buffer_.size() > 0) return read_header();  // a pipelined request is already here
  stream_.expires_after(seconds(state_.config().idle_timeout));
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    self->buffer_.commit(n);
    if (ec) return self->on_read(ec == boost::asio::error::eof ? beast::error_code(http::error::end_of_stream) : ec, 0);
    self->read_header();
  });
}

void HttpSession::read_header() {
  stream_.expires_after(seconds(state_.config().header_timeout));
  http::async_read_header(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
}

std::optional<ApiError> HttpSession::check_header_limits() const {
  const auto& req = parser_->get();
  const auto& config = state_.config();
  if (req.target().size() > static_cast<std::size_t>(config.max_url_length))
    return ApiError{414, "the request URL is longer than --max-url-length (" + std::to_string(config.max_url_length) +
                             " bytes)", "invalid_request_error", "", "url_too_long"};
  if (std::distance(req.begin(), req.end()) > config.max_header_count)
    return ApiError{431, "the request has more than --max-header-count (" + std::to_string(config.max_header_count) +
                             ") header fields", "invalid_request_error", "", "header_too_large"};
  return std::nullopt;
}

void HttpSession::reject_early(const ApiError& error, std::string_view reason) {
  if (state_.metrics()) state_.metrics()->on_http_rejected(reason);
  keep_alive_ = false;
  linger_ = true;
  // In the dialect of the route the request was for, when its target was read (413 on
  // /v1/messages is an Anthropic error).
  const std::string_view target = parser_ && parser_->is_header_done() ? parser_->get().target() : std::string_view();
  do_write(Router::error_reply_in(Router::dialect_of(target), error));
}

// NOTE(server): `Expect: 100-continue`. A client that sends it (curl and many HTTP libraries do for
// larger bodies) waits for "100 Continue" before the body, and without one only gives up waiting
// after about a second, which would all go into its time to first token. So the header is read
// first: a body the header already shows to be too large is refused at once (413, no 100), and
// otherwise an expecting client gets its 100 Continue before the body is read.
void HttpSession::on_header(beast::error_code ec, std::size_t bytes) {
  if (!ec || ec == http::error::body_limit)  // the header is complete: its limits come first
    if (auto error = check_header_limits()) return reject_early(*error, "invalid");
  if (ec || parser_->is_done()) return on_read(ec, bytes);
  const auto& req = parser_->get();
  // Uploads (POST /v1/files) may be up to --max-file-mb; every other body --max-body.
  const std::uint64_t limit = body_limit_for(req.method(), req.target());
  if (const auto length = parser_->content_length(); length && *length > limit)
    return on_read(http::error::body_limit, bytes);
  parser_->body_limit(limit);
  const bool expects = req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue");
  if (!expects) return read_body();
  static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  boost::asio::async_write(stream_, boost::asio::buffer(kContinue, sizeof kContinue - 1),
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             if (ec) return self->do_close();
                             self->read_body();
                           });
}

std::uint64_t HttpSession::body_limit_for(http::verb method, std::string_view target) const {
  const bool upload = method == http::verb::post && target.substr(0, target.find('?')) == "/v1/files";
  return static_cast<std::uint64_t>(upload ? state_.config().max_upload_body() : state_.config().max_body);
}

void HttpSession::read_body() {
  stream_.expires_after(seconds(state_.config().idle_timeout));
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
}

void HttpSession::on_read(beast::error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream) return do_close();
  if (ec == http::error::body_limit) {
    // The request line is parsed by then (a Content-Length over the limit stops the parser at
    // that header field, before the header is done).
    const bool upload = body_limit_for(parser_->get().method(), parser_->get().target()) !=
                        static_cast<std::uint64_t>(state_.config().max_body);
    return reject_early(ApiError{413, upload ? "the upload exceeds --max-file-mb (" +
                                                   std::to_string(state_.config().max_file_mb) + " MiB)"
                                             : "the request body exceeds --max-body (" +
                                                   std::to_string(state_.config().max_body) + " bytes)",
                                 "invalid_request_error", "", upload ? "file_too_large" : "body_too_large"},
                        "body_too_large");
  }
  if (ec == http::error::header_limit)
    return reject_early(ApiError{431, "the request line and headers exceed --max-header-bytes (" +
                                          std::to_string(state_.config().max_header_bytes) + " bytes)",
                                 "invalid_request_error", "", "header_too_large"},
                        "invalid");
  if (ec == beast::error::timeout || ec == boost::asio::error::operation_aborted || ec == boost::asio::error::eof ||
      ec == boost::asio::error::connection_reset)
    return do_close();
  if (ec)  // a malformed request: answer once, then close (the stream cannot be re-synchronised)
    return reject_early(ApiError{400, "malformed HTTP request: " + ec.message(), "invalid_request_error", "", ""},
                        "invalid");
  const auto& req = parser_->get();
  keep_alive_ = req.keep_alive();
  if (req.method() == http::verb::options && !state_.config().allowed_origin.empty())
    return do_write(router_.preflight(req.target(), req[http::field::access_control_request_headers]));
  if (beast::websocket::is_upgrade(req) && req.target().substr(0, req.target().find('?')) == "/v1/realtime")
    return start_realtime();
  RouteResult result = router_.route(RouteRequest{req.method(), req.target(), req.body(),
                                                   req[http::field::authorization], req["x-api-key"],
                                                   req["last-event-id"], req[http::field::content_type]});
  if (auto* reply = std::get_if<HttpReply>(&result)) return do_write(std::move(*reply));
  if (auto* follow = std::get_if<FollowJob>(&result)) return start_follow(std::move(*follow));
  if (auto* store = std::get_if<StoreJob>(&result)) return start_store_job(std::move(*store));
  start_generation(std::move(std::get<GenerationJob>(result)));
}

void HttpSession::start_generation(GenerationJob job) {
  stream_.expires_never();  // the stream enforces --stall-timeout on its own writes
  cap_send_queue(stream_.socket());
  auto stream = std::make_shared<HttpStream>(
      stream_, state_, *state_.engine(), std::move(job.encoder), job.stream, keep_alive_,
      parser_->get().version() >= 11, std::move(job.headers),
      [self = shared_from_this()](std::optional<HttpReply> reply, bool close) {
        self->on_generation_done(std::move(reply), close);
      });
  generation_ = stream;
  if (job.server_ttft) stream->announce_server_ttft();
  if (auto error = stream->start(std::move(job.request))) {
    HttpReply reply = stream->error_reply(*error);
    generation_.reset();  // nothing was submitted; its callback (holding us) goes with it
    return do_write(std::move(reply));
  }
  watch();
}

// The WebSocket upgrade of /v1/realtime. The key comes as Authorization: Bearer, or (browsers can
// set no headers on a WebSocket) as the subprotocol "openai-insecure-api-key.<key>"; the chosen
// subprotocol is echoed ("realtime" when offered).
void HttpSession::start_realtime() {
  const auto& req = parser_->get();
  constexpr std::string_view kKeyProtocol = "openai-insecure-api-key.";
  std::string_view offered = req[http::field::sec_websocket_protocol];
  std::string chosen, key_protocol;
  while (!offered.empty()) {
    std::string_view p = offered.substr(0, offered.find(','));
    offered.remove_prefix(std::min(offered.size(), p.size() + 1));
    while (!p.empty() && p.front() == ' ') p.remove_prefix(1);
    while (!p.empty() && p.back() == ' ') p.remove_suffix(1);
    if (p == "realtime") chosen = p;
    else if (p.starts_with(kKeyProtocol)) key_protocol = p;
  }
  if (chosen.empty()) chosen = key_protocol;
  const std::string& key = state_.config().api_key;
  const std::string_view auth = req[http::field::authorization];
  const bool authorized =
      key.empty() || (auth.starts_with("Bearer ") && api_key_matches(key, auth.substr(7))) ||
      (!key_protocol.empty() && api_key_matches(key, std::string_view(key_protocol).substr(kKeyProtocol.size())));
  if (!authorized) {
    keep_alive_ = false;
    if (state_.metrics()) state_.metrics()->on_http_rejected("unauthorized");
    return do_write(error_reply(ApiError{401, "an API key is required (Authorization: Bearer <key>, or the subprotocol "
                                              "openai-insecure-api-key.<key>)", "invalid_request_error", "", "invalid_api_key"}));
  }
  if (state_.health() != Health::kReady) {
    keep_alive_ = false;
    return do_write(error_reply(ApiError{503, "the server is loading or shutting down", "unavailable_error", "", ""}));
  }
  cap_send_queue(stream_.socket());
  std::make_shared<RealtimeSession>(std::move(stream_), state_)->run(parser_->release(), chosen);
}

void HttpSession::start_follow(FollowJob job) {
  stream_.expires_never();
  cap_send_queue(stream_.socket());
  auto follower = std::make_shared<LogFollower>(stream_, state_, std::move(job.response), job.after, keep_alive_,
                                                parser_->get().version() >= 11,
                                                [self = shared_from_this()](bool close) {
                                                  self->on_generation_done(std::nullopt, close);
                                                });
  generation_ = follower;
  follower->start();
  watch();
}

// Nothing is read meanwhile: the job views the request in parser_. A job dropped unrun (the
// server stopping) releases the session with it, which closes the connection.
void HttpSession::start_store_job(StoreJob job) {
  state_.batches()->run_store_job(std::move(job.run), [self = shared_from_this()](HttpReply reply) {
    boost::asio::post(self->stream_.get_executor(),
                      [self, reply = std::move(reply)]() mutable { self->do_write(std::move(reply)); });
  });
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

// NOTE(server): the lingering close, as nginx does it (lingering_close). An early reply (413,
// 431, 414, 400, 503) usually goes out while the client is still sending its request; closing
// then, with its unread bytes in our receive queue, makes the kernel answer with a reset, and a
// client that writes its whole body before reading (urllib, Node's fetch) gets EPIPE or
// ECONNRESET and never sees the reply. So after such a reply the write side is shut (the client
// reads the reply and EOF) and what the client still sends is read and discarded, for at most
// kLingerTime and kLingerBytes, until it closes; then the socket is closed.
void HttpSession::do_close() {
  if (lingering_) return;
  beast::error_code ec;
  stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  if (!linger_ || ec) return stream_.close();
  lingering_ = true;
  linger_left_ = kLingerBytes;
  buffer_.clear();
  stream_.expires_after(kLingerTime);
  do_linger();
}

void HttpSession::do_linger() {
  stream_.async_read_some(buffer_.prepare(kLingerChunk), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
    if (ec || n >= self->linger_left_) return self->stream_.close();  // EOF, timeout, reset or enough
    self->linger_left_ -= n;
    self->do_linger();  // nothing is committed: the bytes are discarded
  });
}

}  // namespace ladle::server
