#include "bench/loadgen/load_driver.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "bench/loadgen/arrivals.h"
#include "bench/loadgen/request_mix.h"
#include "bench/loadgen/stream_call.h"

namespace ladle::loadgen {

namespace asio = boost::asio;

namespace {

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// One run: all of its state lives here and is touched only by the io_context thread (run()'s
// caller), so no locking is needed. Closed loop: each completion issues the next request.
// Open loop: a timer chain issues requests at the arrival times; --max-concurrency holds
// arrivals in a backlog that completions drain.
class Run {
 public:
  Run(const LoadTarget& target, Workload& workload, const RunPlan& plan, const ProgressFn& progress)
      : target_(target), workload_(workload), plan_(plan), progress_(progress),
        arrivals_(plan.request_rate, plan.burstiness, plan.arrival_seed),
        mix_(MixConfig{target.endpoint, target.mixed, target.drop_rate, plan.arrival_seed}) {
    if (plan.duration_s > 0) issue_deadline_ = start_ + seconds(plan.duration_s);
  }

  Expected<RunResult> execute() {
    boost::system::error_code ec;
    asio::ip::tcp::resolver resolver(ioc_);
    const Url* urls[2] = {&target_.url, target_.alt_url ? &*target_.alt_url : nullptr};
    for (int p = 0; p < 2 && urls[p]; ++p) {
      endpoints_[p] = resolver.resolve(urls[p]->host, urls[p]->port, ec);
      if (ec) return make_error(ErrorCode::kUnavailable, "resolve " + urls[p]->host + ": " + ec.message());
    }
    if (plan_.concurrency > 0) {
      client_requests_.assign(static_cast<std::size_t>(plan_.concurrency), 0);
      for (int i = 0; i < plan_.concurrency && can_issue(); ++i) issue(i);
    } else {
      next_arrival_ = start_;
      arrive();
    }
    ioc_.run();
    return std::move(result_);
  }

 private:
  bool can_issue() const {
    return issued_ + backlog_ < plan_.num_requests && Clock::now() < issue_deadline_;
  }

  // Path of the next request of `client` (-1: open loop): pairs per client (0,0,1,1,...) from
  // four phases, so that about half of those in flight take each path and a request of either
  // path follows one of either path equally often; an odd seed swaps the paths of the phases
  // (load_driver.h).
  int next_path(int client) {
    if (!target_.alt_url) return 0;
    const int swap = static_cast<int>(plan_.arrival_seed & 1);
    if (client < 0) return (issued_ + swap) % 2;
    return ((client + client_requests_[static_cast<std::size_t>(client)]++) / 2 + swap) % 2;
  }

  void issue(int client = -1) {
    const int path = next_path(client);
    const Url& url = path == 0 ? target_.url : *target_.alt_url;
    WorkItem item = workload_.next();
    RequestShape shape = mix_.next(item.max_tokens);
    CompletionRequest req{shape.endpoint, target_.model, std::move(item.prompt), item.max_tokens,
                          shape.stream,   target_.ignore_eos, target_.seed, target_.temperature, shape.stop};
    CallOptions opts;
    opts.host = url.host + ":" + url.port;
    opts.target = url.target(endpoint_path(shape.endpoint));
    if (target_.server_timing) opts.target += "?server_timing=1";
    opts.body = build_request_body(req);
    opts.stream = shape.stream;
    opts.endpoint = shape.endpoint;
    opts.drop_after_events = shape.drop_after_events;
    opts.drop_after = shape.drop_after;
    opts.timeout = target_.timeout;
    opts.run_start = start_;
    RequestSample sample;
    if (client >= 0 && plan_.start_jitter_ms > 0)
      sample.wait_ms = std::uniform_real_distribution<double>(0, plan_.start_jitter_ms)(jitter_rng_);
    sample.index = issued_++;
    sample.level = plan_.concurrency;
    sample.path = path;
    sample.client = client;
    sample.input_words = item.input_words;
    sample.max_tokens = item.max_tokens;
    ++in_flight_;
    if (sample.wait_ms <= 0) return send(path, client, std::move(opts), std::move(sample));
    auto timer = std::make_shared<asio::steady_timer>(ioc_, seconds(sample.wait_ms / 1000.0));
    timer->async_wait([this, timer, path, client, opts = std::move(opts),
                       sample = std::move(sample)](boost::system::error_code) mutable {
      send(path, client, std::move(opts), std::move(sample));
    });
  }

  void send(int path, int client, CallOptions&& opts, RequestSample&& sample) {
    StreamCall::start(ioc_, endpoints_[path], std::move(opts), std::move(sample),
                      [this, client](CallResult&& r) { on_done(client, std::move(r)); });
  }

  void on_done(int client, CallResult&& r) {
    --in_flight_;
    (r.sample.ok || r.sample.dropped ? ok_ : failed_) += 1;
    result_.samples.push_back(std::move(r.sample));
    result_.duration_s = std::chrono::duration<double>(Clock::now() - start_).count();
    if (progress_) progress_(ok_, failed_, in_flight_, result_.duration_s);
    if (plan_.concurrency > 0) {
      if (can_issue()) issue(client);
    } else if (backlog_ > 0) {
      --backlog_;
      issue();
    }
  }

  void arrive() {
    if (!can_issue()) return;
    if (plan_.max_concurrency > 0 && in_flight_ >= plan_.max_concurrency) ++backlog_;
    else issue();
    next_arrival_ += seconds(arrivals_.next_gap_s());
    arrival_timer_.expires_at(next_arrival_);
    arrival_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) arrive();
    });
  }

  const LoadTarget& target_;
  Workload& workload_;
  const RunPlan& plan_;
  const ProgressFn& progress_;
  ArrivalProcess arrivals_;
  RequestMix mix_;
  asio::io_context ioc_;
  asio::steady_timer arrival_timer_{ioc_};
  asio::ip::tcp::resolver::results_type endpoints_[2];  // of url and alt_url
  std::vector<int> client_requests_;  // closed loop: requests issued so far per client
  std::mt19937_64 jitter_rng_{plan_.arrival_seed ^ 0x6a09e667f3bcc909ull};
  Clock::time_point start_ = Clock::now();
  Clock::time_point issue_deadline_ = Clock::time_point::max();
  Clock::time_point next_arrival_{};
  int issued_ = 0, in_flight_ = 0, ok_ = 0, failed_ = 0, backlog_ = 0;
  RunResult result_;
};

}  // namespace

LoadDriver::LoadDriver(LoadTarget target, Workload& workload) : target_(std::move(target)), workload_(workload) {}

Expected<RunResult> LoadDriver::run(const RunPlan& plan, const ProgressFn& progress) {
  Run run(target_, workload_, plan, progress);
  return run.execute();
}

}  // namespace ladle::loadgen
