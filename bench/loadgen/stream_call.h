// StreamCall: one HTTP POST to an OpenAI-compatible endpoint on its own TCP connection, streamed
// (SSE) or not, that timestamps every event as its bytes arrive and can be dropped on purpose.
//
// Lifetime follows the Beast session shape: the call owns itself through shared_from_this() while
// an operation is pending; callers may keep the returned shared_ptr to drop() it. All I/O runs on
// the given io_context, which must be run by exactly one thread (every caller does: LoadDriver
// and CancelHarness each run theirs on one thread). drop(), content_events() and finished() may
// be called from any thread; `done` runs exactly once, on the io_context's thread.
// NOTE(loadgen): no strand. With one thread it serializes nothing, and it cost a second trip
// through the scheduler for every read completion: ~30% of the client's instructions per event.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "bench/loadgen/openai_protocol.h"
#include "bench/loadgen/request_sample.h"
#include "bench/loadgen/sse_parser.h"

namespace ladle::loadgen {

using Clock = std::chrono::steady_clock;

struct CallOptions {
  std::string host;    // Host header
  std::string target;  // e.g. "/v1/completions"
  std::string body;    // JSON request body
  bool stream = true;
  ApiEndpoint endpoint = ApiEndpoint::kCompletions;
  std::chrono::milliseconds timeout{120'000};  // whole request, connect to last byte
  std::optional<int> drop_after_events;        // close after this many content events
  std::optional<std::chrono::microseconds> drop_after;  // close this long after the write
  Clock::time_point run_start = Clock::now();  // origin of RequestSample::start_s
};

struct CallResult {
  RequestSample sample;
  Clock::time_point sent_at{};    // request fully written
  Clock::time_point closed_at{};  // socket closed by drop() or a drop point (dropped only)
  bool saw_content_before_close = false;
};

class StreamCall : public std::enable_shared_from_this<StreamCall> {
 public:
  using Done = std::function<void(CallResult&&)>;

  // Starts the call on `ioc`: connect to `endpoints`, write, read. `sample` is prefilled by the
  // caller (index, level, input_words, max_tokens) and completed by the call.
  static std::shared_ptr<StreamCall> start(boost::asio::io_context& ioc,
                                           const boost::asio::ip::tcp::resolver::results_type& endpoints,
                                           CallOptions options, RequestSample sample, Done done);

  // Closes the socket now (posted to the io_context); the result is marked dropped.
  void drop();
  int content_events() const { return content_events_.load(); }
  bool finished() const { return finished_.load(); }

  StreamCall(boost::asio::io_context& ioc, CallOptions options, RequestSample sample, Done done);

 private:
  void do_connect(const boost::asio::ip::tcp::resolver::results_type& endpoints);
  void on_connect(boost::beast::error_code ec);
  void on_write(boost::beast::error_code ec, std::size_t);
  void do_read_header();
  void on_read_header(boost::beast::error_code ec, std::size_t);
  void do_read_body();
  void on_read_body(boost::beast::error_code ec, std::size_t);
  void on_bytes(std::string_view bytes, Clock::time_point now);
  void on_event(const SseEvent& event, Clock::time_point now);
  void close_for_drop();
  void fail(std::string what);
  void finish();

  CallOptions options_;
  boost::beast::tcp_stream stream_;
  boost::asio::steady_timer drop_timer_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::request<boost::beast::http::string_body> request_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::buffer_body>> parser_;
  char body_buf_[8192];
  SseParser sse_;
  std::vector<SseEvent> events_;  // events of the last read, reused
  std::string plain_body_;  // non-streamed or error bodies
  CallResult result_;
  Done done_;
  Clock::time_point connect_start_{}, deadline_{};
  std::optional<Clock::time_point> last_content_;
  bool saw_done_ = false, finished_local_ = false;
  std::atomic<int> content_events_{0};
  std::atomic<bool> finished_{false};
};

}  // namespace ladle::loadgen
