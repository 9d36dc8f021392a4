#include "bench/loadgen/load_driver.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <memory>

#include "bench/loadgen/arrivals.h"
#include "bench/loadgen/stream_call.h"

namespace ladle::loadgen {

namespace asio = boost::asio;

namespace {

// The state of one run; lives on run()'s stack, touched only by the io_context thread.
struct RunState {
  asio::io_context ioc;
  asio::ip::tcp::resolver::results_type endpoints;
  Clock::time_point start = Clock::now();
  Clock::time_point issue_deadline = Clock::time_point::max();
  int issued = 0, in_flight = 0, ok = 0, failed = 0, backlog = 0;
  RunResult result;
};

}  // namespace

LoadDriver::LoadDriver(LoadTarget target, Workload& workload) : target_(std::move(target)), workload_(workload) {}

Expected<RunResult> LoadDriver::run(const RunPlan& plan, const ProgressFn& progress) {
  RunState st;
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(st.ioc);
  st.endpoints = resolver.resolve(target_.url.host, target_.url.port, ec);
  if (ec) return make_error(ErrorCode::kUnavailable, "resolve " + target_.url.host + ": " + ec.message());
  if (plan.duration_s > 0)
    st.issue_deadline = st.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(plan.duration_s));

  auto can_issue = [&] {
    return st.issued + st.backlog < plan.num_requests && Clock::now() < st.issue_deadline;
  };
  std::function<void()> issue;
  auto on_done = [&](CallResult&& r) {
    --st.in_flight;
    (r.sample.ok ? st.ok : st.failed) += 1;
    st.result.samples.push_back(std::move(r.sample));
    st.result.duration_s = std::chrono::duration<double>(Clock::now() - st.start).count();
    if (progress) progress(st.ok, st.failed, st.in_flight, st.result.duration_s);
    if (plan.concurrency > 0) {
      if (can_issue()) issue();
    } else if (st.backlog > 0) {  // open loop held back by --max-concurrency
      --st.backlog;
      issue();
    }
  };
  issue = [&] {
    WorkItem item = workload_.next();
    CompletionRequest req{target_.endpoint, target_.model, std::move(item.prompt), item.max_tokens,
                          /*stream=*/true,  target_.ignore_eos, target_.seed, target_.temperature};
    CallOptions opts;
    opts.host = target_.url.host + ":" + target_.url.port;
    opts.target = target_.url.target(endpoint_path(target_.endpoint));
    opts.body = build_request_body(req);
    opts.endpoint = target_.endpoint;
    opts.timeout = target_.timeout;
    opts.run_start = st.start;
    RequestSample sample;
    sample.index = st.issued++;
    sample.level = plan.concurrency;
    sample.input_words = item.input_words;
    sample.max_tokens = item.max_tokens;
    ++st.in_flight;
    StreamCall::start(st.ioc, st.endpoints, std::move(opts), std::move(sample), on_done);
  };

  asio::steady_timer arrival_timer(st.ioc);
  ArrivalProcess arrivals(plan.request_rate, plan.burstiness, plan.arrival_seed);
  Clock::time_point next_arrival = st.start;
  std::function<void()> arrive = [&] {
    if (!can_issue()) return;
    if (plan.max_concurrency > 0 && st.in_flight >= plan.max_concurrency) ++st.backlog;
    else issue();
    next_arrival += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(arrivals.next_gap_s()));
    arrival_timer.expires_at(next_arrival);
    arrival_timer.async_wait([&](boost::system::error_code e) {
      if (!e) arrive();
    });
  };

  if (plan.concurrency > 0) {
    for (int i = 0; i < plan.concurrency && can_issue(); ++i) issue();
  } else {
    arrive();
  }
  st.ioc.run();
  return std::move(st.result);
}

}  // namespace ladle::loadgen
