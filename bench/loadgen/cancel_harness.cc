#include "bench/loadgen/cancel_harness.h"

#include <algorithm>
#include <cmath>

namespace ladle::loadgen {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}
constexpr auto kPollPeriod = std::chrono::microseconds(2000);
ServerGauges gauges_or_empty(const Url& url) {
  auto g = read_gauges(url);
  return g ? *g : ServerGauges{};
}
}  // namespace

CancelHarness::CancelHarness(CancelConfig config)
    : config_(std::move(config)),
      short_prompts_(WorkloadConfig{16, config_.long_tokens, 0.0, 0, config_.seed}),
      long_prompts_(WorkloadConfig{config_.prefill_len, config_.long_tokens, 0.0, 0, config_.seed + 1}),
      work_(asio::make_work_guard(ioc_)) {
  io_thread_ = std::thread([this] { ioc_.run(); });
}

CancelHarness::~CancelHarness() {
  work_.reset();
  ioc_.stop();
  if (io_thread_.joinable()) io_thread_.join();
}

CancelHarness::Launched CancelHarness::launch(const std::string& prompt, bool stream, CallOptions opts,
                                              int max_tokens) {
  CompletionRequest req{config_.endpoint, config_.model, prompt, max_tokens, stream,
                        /*ignore_eos=*/true, config_.seed, 0.0, {}};
  opts.host = config_.url.host + ":" + config_.url.port;
  opts.target = config_.url.target(endpoint_path(config_.endpoint));
  opts.body = build_request_body(req);
  opts.stream = stream;
  opts.endpoint = config_.endpoint;
  opts.timeout = milliseconds(config_.settle_ms * 4);
  auto promise = std::make_shared<std::promise<CallResult>>();
  Launched out;
  out.result = promise->get_future();
  RequestSample sample;
  sample.max_tokens = max_tokens;
  out.call = StreamCall::start(ioc_, endpoints_, std::move(opts), std::move(sample),
                               [promise](CallResult&& r) { promise->set_value(std::move(r)); });
  return out;
}

Expected<ServerGauges> CancelHarness::wait_idle() {
  auto deadline = Clock::now() + milliseconds(config_.settle_ms);
  while (true) {
    auto g = read_gauges(config_.url);
    if (!g) return g.error();
    if (!g->running && !g->waiting && !g->blocks_used)
      return make_error(ErrorCode::kNotFound, "the server's /metrics has none of ladle_num_requests_running, "
                                              "ladle_num_requests_waiting, ladle_kv_cache_blocks_used");
    if (g->running.value_or(0) == 0 && g->waiting.value_or(0) == 0) return g;
    if (Clock::now() > deadline)
      return make_error(ErrorCode::kUnavailable, "the server is not idle (" + g->to_string() +
                                                     "): cancel-test needs a server nobody else is using");
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::optional<ServerGauges> CancelHarness::wait_freed(const ServerGauges& baseline, Clock::time_point deadline,
                                                      std::string* last_seen) {
  std::optional<ServerGauges> quiet_since;  // first poll of the current quiet window
  while (Clock::now() < deadline) {
    auto next = Clock::now() + kPollPeriod;
    auto g = read_gauges(config_.url);
    if (g) {
      *last_seen = g->to_string();
      bool freed = g->at_or_below(baseline);
      if (!freed) {
        quiet_since.reset();
      } else if (!quiet_since || g->generation_tokens != quiet_since->generation_tokens) {
        quiet_since = *g;  // (re)start the window: tokens still moved
      } else if (ms_between(quiet_since->at, g->at) >= config_.quiet_ms) {
        return quiet_since;
      }
    }
    std::this_thread::sleep_until(next);
  }
  return std::nullopt;
}

void CancelHarness::drop_one(DropPointReport& report, const std::string& prompt, bool stream,
                             const CallOptions& drop, int max_tokens) {
  ++report.attempted;
  auto idle = wait_idle();
  if (!idle) {
    ++report.leaks;
    report.notes.push_back("before drop: " + idle.error().message);
    return;
  }
  Launched l = launch(prompt, stream, drop, max_tokens);
  // Poll /metrics while the request runs: the last sample taken before the close bounds the
  // tokens generated up to the close from below.
  std::vector<ServerGauges> history{*idle};
  auto give_up = Clock::now() + milliseconds(config_.settle_ms * 5);
  while (l.result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (Clock::now() > give_up) l.call->drop();
    if (auto g = read_gauges(config_.url)) history.push_back(*g);
    std::this_thread::sleep_for(kPollPeriod);
  }
  CallResult r = l.result.get();
  if (!r.sample.dropped) {
    if (r.sample.ok) ++report.completed_before_drop;
    else report.notes.push_back("request failed before its drop point: " + r.sample.error);
    return;
  }
  ++report.dropped;
  if (!r.saw_content_before_close) ++report.before_first_token;
  std::string last_seen;
  auto freed = wait_freed(*idle, r.closed_at + milliseconds(config_.settle_ms), &last_seen);
  if (!freed) {
    ++report.leaks;
    report.notes.push_back("not back to baseline " + std::to_string(config_.settle_ms) + " ms after the close: " +
                           last_seen + " (baseline " + idle->to_string() + ")");
    return;
  }
  report.free_ms.push_back(std::max(0.0, ms_between(r.closed_at, freed->at)));
  const ServerGauges* at_close = &history.front();
  for (const auto& g : history)
    if (g.at <= r.closed_at) at_close = &g;
  if (freed->generation_tokens && at_close->generation_tokens)
    report.tokens_after_close.push_back(std::max(0.0, *freed->generation_tokens - *at_close->generation_tokens));
  if (freed->cancelled && idle->cancelled && *freed->cancelled < *idle->cancelled + 1) ++report.not_cancelled;
}

DropPointReport CancelHarness::run_single_point(const std::string& name, Workload& prompts, bool stream,
                                                const CallOptions& drop, int max_tokens) {
  DropPointReport report;
  report.name = name;
  for (int i = 0; i < config_.drops; ++i) drop_one(report, prompts.next().prompt, stream, drop, max_tokens);
  if (report.dropped == 0 && report.completed_before_drop > 0)
    report.notes.push_back("every request finished before its drop point: lengthen --long-tokens");
  return report;
}

// The queued point: saturate the server with long streams, then drop ones that have not
// produced a token while requests are waiting. Each such drop is freed when the server counts it
// as cancelled (the waiting gauge alone cannot tell it from an admission). Afterwards every
// remaining stream is dropped at once and the whole server must return to its idle baseline
// (the `bulk` row).
DropPointReport CancelHarness::run_queued_point(DropPointReport* bulk) {
  DropPointReport report;
  report.name = "queued";
  bulk->name = "running (bulk close)";
  auto idle = wait_idle();
  if (!idle) {
    report.notes.push_back(idle.error().message);
    ++report.leaks;
    return report;
  }
  std::vector<Launched> streams;
  for (int i = 0; i < config_.saturate; ++i)
    streams.push_back(launch(short_prompts_.next().prompt, true, {}, config_.long_tokens));
  std::vector<bool> closed(streams.size(), false);
  if (wait_for_queue()) {
    for (int d = 0; d < config_.drops; ++d)
      if (!drop_queued(streams, closed, report)) break;
  } else {
    report.notes.push_back("skipped: " + std::to_string(config_.saturate) +
                           " streams never left one waiting (start the server with a small --max-running "
                           "or raise --saturate)");
  }
  close_all(streams, closed, *idle, *bulk);
  return report;
}

bool CancelHarness::wait_for_queue() {
  auto deadline = Clock::now() + milliseconds(config_.settle_ms);
  while (Clock::now() < deadline) {
    if (gauges_or_empty(config_.url).waiting.value_or(0) >= 1) return true;
    std::this_thread::sleep_for(kPollPeriod);
  }
  return false;
}

bool CancelHarness::drop_queued(std::vector<Launched>& streams, std::vector<bool>& closed, DropPointReport& report) {
  auto before = read_gauges(config_.url);
  if (!before || before->waiting.value_or(0) < 1) return false;  // the queue has drained
  std::size_t victim = 0;
  while (victim < streams.size() &&
         (closed[victim] || streams[victim].call->finished() || streams[victim].call->content_events() > 0))
    ++victim;
  if (victim == streams.size()) return false;
  closed[victim] = true;
  ++report.attempted;
  streams[victim].call->drop();
  CallResult r = streams[victim].result.get();
  if (!r.sample.dropped) return ++report.completed_before_drop, true;
  ++report.dropped;
  ++report.before_first_token;
  if (!before->cancelled) {
    report.notes.push_back("no ladle_requests_finished_total{reason=\"cancelled\"}: queued drops not timed");
    return false;
  }
  auto deadline = r.closed_at + milliseconds(config_.settle_ms);
  while (Clock::now() < deadline) {
    auto now = read_gauges(config_.url);
    if (now && now->cancelled.value_or(0) >= *before->cancelled + 1) {
      report.free_ms.push_back(std::max(0.0, ms_between(r.closed_at, now->at)));
      return true;
    }
    std::this_thread::sleep_for(kPollPeriod);
  }
  ++report.leaks;
  report.notes.push_back("a queued drop was never counted as cancelled");
  return true;
}

void CancelHarness::close_all(std::vector<Launched>& streams, std::vector<bool>& closed, const ServerGauges& idle,
                              DropPointReport& bulk) {
  double received = 0;  // tokens the clients saw, to subtract from the server's count
  Clock::time_point last_close{};
  for (std::size_t i = 0; i < streams.size(); ++i) {
    if (closed[i]) continue;  // queued victims received nothing
    streams[i].call->drop();
    CallResult r = streams[i].result.get();
    ++bulk.attempted;
    if (r.sample.dropped) ++bulk.dropped, last_close = r.closed_at;
    else ++bulk.completed_before_drop;
    received += r.sample.dropped ? r.sample.content_events : r.sample.output_tokens;
  }
  if (last_close == Clock::time_point{}) last_close = Clock::now();
  std::string last_seen;
  auto freed = wait_freed(idle, last_close + milliseconds(config_.settle_ms), &last_seen);
  if (!freed) {
    ++bulk.leaks;
    bulk.notes.push_back("not back to idle after closing every stream: " + last_seen + " (baseline " +
                         idle.to_string() + ")");
    return;
  }
  if (bulk.dropped > 0) bulk.free_ms.push_back(std::max(0.0, ms_between(last_close, freed->at)));
  if (freed->generation_tokens && idle.generation_tokens)
    bulk.tokens_after_close.push_back(std::max(0.0, *freed->generation_tokens - *idle.generation_tokens - received));
  bulk.notes.push_back("time-to-free is from the last of " + std::to_string(bulk.dropped) +
                       " closes to an idle server; tokens are the phase's generated minus received");
}

Expected<std::vector<DropPointReport>> CancelHarness::run() {
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(ioc_);
  endpoints_ = resolver.resolve(config_.url.host, config_.url.port, ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "resolve " + config_.url.host + ": " + ec.message());
  if (auto idle = wait_idle(); !idle) return idle.error();

  std::vector<DropPointReport> reports;
  CallOptions decode;
  decode.drop_after_events = config_.after_tokens;
  reports.push_back(run_single_point("after " + std::to_string(config_.after_tokens) + " tokens", short_prompts_,
                                     true, decode, config_.long_tokens));
  CallOptions prefill;
  prefill.drop_after = std::chrono::microseconds(config_.prefill_drop_us);
  reports.push_back(run_single_point("prefill (" + std::to_string(config_.prefill_len) + "-word prompt)",
                                     long_prompts_, true, prefill, config_.prefill_max_tokens));
  CallOptions nonstream;
  nonstream.drop_after = std::chrono::microseconds(config_.nonstream_drop_ms * 1000);
  reports.push_back(run_single_point("non-streamed", short_prompts_, false, nonstream, config_.long_tokens));
  DropPointReport bulk;
  reports.push_back(run_queued_point(&bulk));
  reports.push_back(std::move(bulk));
  return reports;
}

}  // namespace ladle::loadgen
